//! Receives into memory that may be uninitialised (a `Vec`'s spare capacity), peeks into
//! a byte slice through `socket2`, whose receives take `MaybeUninit` buffers, and TCP
//! receives that also report whether the receive queue is left empty (`recv_noting_queue`,
//! `recvmsg(2)` with `TCP_INQ` on Linux). The only `unsafe` of the sockets.

use socket2::{SockAddr, SockRef};
use std::io;
use std::mem::MaybeUninit;

/// What `bytes`' `BufMut` for `Vec` reserves when it is full (as tokio's `recv_buf` does
/// through it): a full vector still receives something.
const RESERVE_WHEN_FULL: usize = 64;

/// The spare capacity of `vec`, reserving some if there is none.
fn spare(vec: &mut Vec<u8>) -> &mut [MaybeUninit<u8>] {
    if vec.capacity() == vec.len() {
        vec.reserve(RESERVE_WHEN_FULL);
    }
    vec.spare_capacity_mut()
}

/// Grows `vec` by the `n` bytes a receive wrote into its spare capacity.
///
/// # Safety
///
/// The first `n` bytes of the spare capacity must be initialised.
unsafe fn commit(vec: &mut Vec<u8>, n: usize) -> io::Result<usize> {
    if n > vec.capacity() - vec.len() {
        // Never seen: a kernel reports at most the buffer's length without MSG_TRUNC.
        return Err(io::Error::other(
            "a receive reported more bytes than its buffer",
        ));
    }
    // SAFETY: `n` fits the capacity (checked above) and the caller guarantees the bytes
    // are initialised.
    unsafe { vec.set_len(vec.len() + n) };
    Ok(n)
}

/// `recv` into the spare capacity of `vec`, which grows by what was received.
pub(crate) fn recv_spare(sock: SockRef<'_>, vec: &mut Vec<u8>) -> io::Result<usize> {
    let n = sock.recv(spare(vec))?;
    // SAFETY: socket2's `recv` returns the number of bytes it initialised at the start of
    // the buffer it was given (the kernel wrote them).
    unsafe { commit(vec, n) }
}

/// `recv_from` into the spare capacity of `vec`, which grows by what was received.
pub(crate) fn recv_from_spare(
    sock: SockRef<'_>,
    vec: &mut Vec<u8>,
) -> io::Result<(usize, SockAddr)> {
    let (n, from) = sock.recv_from(spare(vec))?;
    // SAFETY: as in `recv_spare`: `recv_from` initialised the first `n` bytes.
    unsafe { commit(vec, n) }.map(|n| (n, from))
}

/// `recv` with `MSG_PEEK` into an initialised byte slice: the data stays queued.
pub(crate) fn peek(sock: SockRef<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and socket2's `peek`
    // only writes initialised bytes (what the kernel copies), so `buf` stays initialised.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    sock.peek(uninit)
}

/// `recv` into `buf`, saying nothing about the queue (`recv_noting_queue` for sockets
/// that cannot tell).
pub(crate) fn recv_plain(
    sock: SockRef<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<(usize, bool)> {
    sock.recv(buf).map(|n| (n, false))
}

/// `recv` into `buf`, and whether the kernel said the receive queue held nothing more
/// after it (no bytes, and no end of stream: source.rs, "Drained reads"). `false` when it
/// said nothing: not on Linux, on the socket's first read, or on a kernel without
/// `TCP_INQ`. For TCP sockets only.
///
/// `Ok((n, _))`: the first `n` bytes of `buf` were written by the kernel, so are
/// initialised, and `n <= buf.len()`.
pub(crate) fn recv_noting_queue(
    sock: SockRef<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<(usize, bool)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return inq::recv(sock, buf);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return sock.recv(buf).map(|n| (n, false));
}

/// Sets `TCP_INQ` on a listening socket, so the connections it accepts report their queue
/// from their first read (they inherit the option). Nothing where it does not exist; a
/// kernel that refuses it is not asked again.
pub(crate) fn note_queue_on_accepted(listener: SockRef<'_>) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    inq::ask(std::os::fd::AsRawFd::as_raw_fd(&*listener));
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = listener;
}

/// `recvmsg(2)` asking for `TCP_INQ`: the bytes left in the receive queue after the read,
/// where a received end of stream counts as one (Linux 4.18 and later).
#[cfg(any(target_os = "linux", target_os = "android"))]
mod inq {
    use socket2::SockRef;
    use std::io;
    use std::mem::{size_of, size_of_val, MaybeUninit};
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

    /// A socket refused `TCP_INQ` (a kernel older than 4.18): no socket asks again, and
    /// reads report nothing about the queue.
    static REFUSED: AtomicBool = AtomicBool::new(false);

    pub(super) fn recv(
        sock: SockRef<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> io::Result<(usize, bool)> {
        let fd = sock.as_raw_fd();
        // Room for the control message carrying an `int` (`CMSG_SPACE(4)` is 16 or 24
        // bytes) and one more a user's own option may add, aligned for `cmsghdr` (at
        // most 8).
        let mut control = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: `msghdr` is plain data, for which all zeroes (null pointers, zero
        // lengths, no flags) is a valid value; musl's has padding fields, hence no literal.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control) as _;
        // SAFETY: `fd` is the socket `sock` borrows, open for the call; `msg` points at
        // `iov`, which describes `buf` (writable for its length), and at `control`
        // (writable for `msg_controllen` bytes), all of them live until the call returns.
        let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n > buf.len() {
            // Never seen: without MSG_TRUNC a stream receive returns at most the buffer.
            return Err(io::Error::other(
                "a receive reported more bytes than its buffer",
            ));
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            // Other control messages (a user's own option) filled the room: say nothing,
            // and do not ask again (the count may be among those cut off).
            return Ok((n, false));
        }
        let mut queued = None;
        // SAFETY: `control` holds whole messages (not cut off, checked above) within
        // `msg_controllen`; `CMSG_FIRSTHDR`/`CMSG_NXTHDR` stay inside it or return null; an
        // INQ message of `CMSG_LEN(sizeof(int))` bytes has an `int` at `CMSG_DATA`.
        unsafe {
            let int_len = libc::CMSG_LEN(size_of::<libc::c_int>() as u32) as usize;
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let h = &*cmsg;
                if h.cmsg_level == libc::SOL_TCP
                    && h.cmsg_type == libc::TCP_CM_INQ
                    && h.cmsg_len as usize >= int_len
                {
                    let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                    queued = Some(data.read_unaligned());
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        match queued {
            Some(q) => Ok((n, q == 0)),
            None => {
                // The socket's first read (or `TCP_INQ` is not on): ask for it from now on.
                // (Accepted sockets have it from their listener: `note_queue_on_accepted`.)
                ask(fd);
                Ok((n, false))
            }
        }
    }

    /// Sets `TCP_INQ` on `fd` unless a kernel refused it before.
    pub(super) fn ask(fd: std::os::fd::RawFd) {
        if !REFUSED.load(Relaxed) && !enable(fd) {
            REFUSED.store(true, Relaxed);
        }
    }

    /// Sets `TCP_INQ` on `fd`; false if the kernel refused.
    fn enable(fd: std::os::fd::RawFd) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: `fd` is open (the caller's borrowed socket), and the option value is a
        // live `int` of the length given.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_TCP,
                libc::TCP_INQ,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        r == 0
    }
}
