//! Addresses that may need a DNS lookup, resolved on the blocking pool.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What a connect or bind accepts: a socket address, an `(ip, port)` pair, or a
/// `"host:port"` string. Strings that are not literal addresses are resolved with the
/// system resolver on the runtime's blocking pool, so a slow DNS server never blocks a
/// worker.
pub trait ToSocketAddrs {
    /// The addresses, or the name to look up.
    #[doc(hidden)]
    fn to_lookup(&self) -> Lookup;
}

/// How an address is resolved: at once, or by a name lookup.
#[doc(hidden)]
#[derive(Debug)]
pub enum Lookup {
    /// One address, known at once (no allocation: `send_to` resolves per datagram).
    One(SocketAddr),
    Ready(Vec<SocketAddr>),
    Name(String),
}

/// The first address `addr` resolves to: with no allocation when it is an address already.
pub(crate) async fn resolve_first(addr: &impl ToSocketAddrs) -> io::Result<SocketAddr> {
    match addr.to_lookup() {
        Lookup::One(a) => Ok(a),
        _ => Ok(resolve(addr).await?[0]),
    }
}

pub(crate) async fn resolve(addr: &impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_lookup() {
        Lookup::One(a) => vec![a],
        Lookup::Ready(a) => a,
        Lookup::Name(name) => {
            // The lookup runs on the blocking pool; outside a runtime there is none.
            let handle = weft_executor::Handle::try_current()
                .map_err(|_| io::Error::other(crate::async_fd::NO_REACTOR))?;
            handle
                .spawn_blocking(move || {
                    std::net::ToSocketAddrs::to_socket_addrs(&name).map(Iterator::collect::<Vec<_>>)
                })
                .await
                .map_err(io::Error::from)??
        }
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        ));
    }
    Ok(addrs)
}

/// Runs `op` on each address of `addr` in turn until one succeeds; the last error
/// otherwise.
pub(crate) async fn try_each<T, Fut>(
    addr: &impl ToSocketAddrs,
    mut op: impl FnMut(SocketAddr) -> Fut,
) -> io::Result<T>
where
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in resolve(addr).await? {
        match op(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("resolve returns at least one address"))
}

fn name_or_literal(s: &str) -> Lookup {
    match s.parse::<SocketAddr>() {
        Ok(a) => Lookup::One(a),
        Err(_) => Lookup::Name(s.to_string()),
    }
}

macro_rules! ready {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {
            fn to_lookup(&self) -> Lookup {
                // Each of these is exactly one address.
                match std::net::ToSocketAddrs::to_socket_addrs(self).ok().and_then(|mut a| a.next()) {
                    Some(a) => Lookup::One(a),
                    None => Lookup::Ready(Vec::new()),
                }
            }
        }
    )*};
}

ready!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for str {
    fn to_lookup(&self) -> Lookup {
        name_or_literal(self)
    }
}

impl ToSocketAddrs for String {
    fn to_lookup(&self) -> Lookup {
        name_or_literal(self)
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_lookup(&self) -> Lookup {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Lookup::One(SocketAddr::new(ip, self.1)),
            Err(_) => Lookup::Name(format!("{}:{}", self.0, self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_lookup(&self) -> Lookup {
        (self.0.as_str(), self.1).to_lookup()
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_lookup(&self) -> Lookup {
        Lookup::Ready(self.to_vec())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_lookup(&self) -> Lookup {
        (**self).to_lookup()
    }
}
