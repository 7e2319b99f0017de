//! Receives into memory that may be uninitialised (a `Vec`'s spare capacity), and peeks
//! into a byte slice through `socket2`, whose receives take `MaybeUninit` buffers. The
//! only `unsafe` of the sockets.

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
