//! tokio's I/O traits (feature `tokio-io`) for the facade's own types: [`fs::File`] and the
//! standard streams. The sockets and pipes get theirs from `weft-reactor`'s feature of the
//! same name.
//!
//! These types read from a buffer filled on the blocking pool, through their `futures_io`
//! implementation, which takes `&mut [u8]`: so the unfilled part of tokio's `ReadBuf` is
//! initialized first (`ReadBuf::initialize_unfilled` zeroes only what was never
//! initialized). This crate has no unsafe code; the copy and the blocking call cost far
//! more than the zeroing. Writes, flushes and shutdowns go to the `futures_io` methods
//! (`poll_shutdown` is `poll_close`: it flushes).
//!
//! tokio's `AsyncSeek` for `File` is its two steps over the one `futures_io` seek:
//! `start_seek` records the target and `poll_complete` makes the seek (flushing what
//! was written and dropping the read-ahead, so the position counts from the caller's
//! bytes, not the read-ahead's); a seek started and never completed is made before the
//! file's next operation. With no seek started, `poll_complete` answers at once with the
//! position of the last one (tokio leaves that answer unspecified): tokio's `seek` calls it
//! before every seek, which so costs no extra blocking call.
//!
//! [`fs::File`]: crate::fs::File

use crate::fs::File;
use crate::stdio::{Stderr, Stdin, Stdout};
use futures_lite::{AsyncBufRead, AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::ReadBuf;

macro_rules! tokio_read {
    ($($ty:ty),*) => {$(
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let n = ready!(AsyncRead::poll_read(self, cx, buf.initialize_unfilled()))?;
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }

        impl tokio::io::AsyncBufRead for $ty {
            fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
                AsyncBufRead::poll_fill_buf(self, cx)
            }

            fn consume(self: Pin<&mut Self>, amt: usize) {
                AsyncBufRead::consume(self, amt)
            }
        }
    )*};
}

macro_rules! tokio_write {
    ($($ty:ty),*) => {$(
        impl tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_close(self, cx)
            }
        }
    )*};
}

tokio_read!(File, Stdin);
tokio_write!(File, Stdout, Stderr);

impl tokio::io::AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        self.get_mut().start_seek(position)
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        self.get_mut().poll_started_seek(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::mem::MaybeUninit;

    #[test]
    fn file_through_tokio_traits() {
        crate::run(async {
            let path = std::env::temp_dir().join(format!("weft-tokio-io-{}", std::process::id()));
            let mut file = crate::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .await
                .unwrap();
            let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
            let mut rest = &data[..];
            while !rest.is_empty() {
                let n =
                    poll_fn(|cx| tokio::io::AsyncWrite::poll_write(Pin::new(&mut file), cx, rest))
                        .await
                        .unwrap();
                rest = &rest[n..];
            }
            poll_fn(|cx| tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut file), cx))
                .await
                .unwrap();
            drop(file);
            let mut file = crate::fs::File::open(&path).await.unwrap();
            let mut back = Vec::new();
            let mut storage = vec![MaybeUninit::<u8>::uninit(); 10_000];
            loop {
                let mut buf = ReadBuf::uninit(&mut storage);
                poll_fn(|cx| tokio::io::AsyncRead::poll_read(Pin::new(&mut file), cx, &mut buf))
                    .await
                    .unwrap();
                if buf.filled().is_empty() {
                    break;
                }
                back.extend_from_slice(buf.filled());
            }
            assert_eq!(back, data);
            crate::fs::remove_file(&path).await.unwrap();
        });
    }
}
