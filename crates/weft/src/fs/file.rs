//! `File` and `OpenOptions`.

use super::{asyncify, owned, Metadata, Permissions};
use crate::blocking_io::{Blocking, Policy, Raw};
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// The std file, shared with `metadata` calls that do not wait for the buffer.
struct FileRaw(Arc<std::fs::File>);

impl Raw for FileRaw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self.0).write_all(buf)
    }
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self.0).seek(pos)
    }
}

/// An open file with [`AsyncRead`](crate::io::AsyncRead),
/// [`AsyncBufRead`](crate::io::AsyncBufRead), [`AsyncWrite`](crate::io::AsyncWrite) and
/// [`AsyncSeek`](crate::io::AsyncSeek), on weft's blocking pool.
///
/// ```
/// use weft::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, SeekFrom};
///
/// weft::run(async {
///     let path = std::env::temp_dir().join(format!("weft-file-doc-{}", std::process::id()));
///     let mut file = weft::fs::OpenOptions::new()
///         .read(true)
///         .write(true)
///         .create(true)
///         .truncate(true)
///         .open(&path)
///         .await
///         .unwrap();
///     for i in 0..1000u32 {
///         file.write_all(&i.to_le_bytes()).await.unwrap(); // collected, not one call each
///     }
///     file.seek(SeekFrom::Start(4 * 999)).await.unwrap(); // flushes first
///     let mut last = [0; 4];
///     file.read_exact(&mut last).await.unwrap();
///     assert_eq!(u32::from_le_bytes(last), 999);
///     weft::fs::remove_file(&path).await.unwrap();
/// });
/// ```
///
/// # Buffering
///
/// Writes are collected in a buffer of 64 KiB. A full buffer is handed to a blocking
/// task that writes it behind the caller, who meanwhile fills the next one (at most
/// 8 buffers, 512 KiB, are in flight; a writer faster than the disk waits for room).
/// What is left is handed to the OS on [`flush`](crate::io::AsyncWriteExt::flush) or
/// [`close`](crate::io::AsyncWriteExt::close), and before a read, a seek, `set_len` or
/// `sync_*`. So a write is only handed to the OS after `flush`, and only on disk after
/// [`sync_all`](File::sync_all) or [`sync_data`](File::sync_data).
///
/// Reads fetch at least 16 KiB per blocking call and serve later reads from it. Once
/// reads have been sequential for two such calls, a blocking task reads ahead in
/// 256 KiB pieces, at most 2 MiB ahead of the caller, while the caller copies out of
/// what it already has; it pauses when 2 MiB are waiting and resumes when half were
/// taken, so a `File` nobody reads holds no thread. At the end of the file a read
/// returns 0, and a later read tries again (the file may have grown).
///
/// # Errors
///
/// An error of a write made behind the caller comes back, once, from a later write,
/// from `flush`, `close`, `sync_*`, `set_len`, a seek or a read, whichever comes first;
/// the bytes buffered after the failed ones are dropped with it (as after a failed
/// `write_all`, how much of them reached the file is unknown). Dropping a `File` with
/// unflushed data writes it in the background, and its error, if any, is lost: flush to
/// hear it.
///
/// # Cancellation
///
/// Each blocking call, once started, runs to its end, owning the file and its buffer
/// meanwhile. Dropping a read, write, seek or flush future mid-way loses nothing: a write
/// future's bytes were buffered when it returned `Ready`; a read whose future was dropped
/// leaves what was read in the buffer for the next read; the next operation on the file
/// first waits for the call in flight and reports its error if it failed. A dropped
/// `set_len`/`sync_*` still happens.
///
/// A seek (and any write, `set_len`, `sync_*` or `into_std`) during a read-ahead stops
/// it after the read in progress; what it had read past the caller's position is
/// dropped, and the file position is moved back over it, so a `SeekFrom::Current` counts
/// from the caller's position. Dropping the `File` stops the read-ahead the same way
/// (the read in progress, at most 256 KiB, finishes on the pool), and lets a
/// write-behind finish.
///
/// [`sync_all`](File::sync_all), [`sync_data`](File::sync_data) and
/// [`set_len`](File::set_len) take `&mut self` (tokio's take `&self`), since they flush
/// the buffer first.
pub struct File {
    std: Arc<std::fs::File>,
    io: Blocking<FileRaw>,
    /// tokio's two-step seek (`start_seek`, feature `tokio-io`): started and not yet
    /// made. It is made by `poll_complete` or, if that is never called, by the next
    /// operation on the file, before that operation.
    started_seek: Option<SeekFrom>,
    /// Where the last seek made for `started_seek` left the file: what `poll_complete`
    /// answers when no seek is pending (tokio leaves that answer unspecified).
    last_seek: u64,
}

impl File {
    /// Opens a file for reading ([`std::fs::File::open`]).
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let path = owned(path);
        asyncify(move || std::fs::File::open(path))
            .await
            .map(File::from_std)
    }

    /// Opens a file for writing, creating or truncating it ([`std::fs::File::create`]).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let path = owned(path);
        asyncify(move || std::fs::File::create(path))
            .await
            .map(File::from_std)
    }

    /// Creates a new file for reading and writing; an error if it exists.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        let path = owned(path);
        asyncify(move || std::fs::File::create_new(path))
            .await
            .map(File::from_std)
    }

    /// A new [`OpenOptions`], all options off.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file (its position is kept).
    pub fn from_std(std: std::fs::File) -> File {
        let std = Arc::new(std);
        File {
            io: Blocking::pipelined(FileRaw(std.clone()), Policy::Full),
            std,
            started_seek: None,
            last_seek: 0,
        }
    }

    /// tokio's `start_seek`: records the seek, made by [`File::poll_started_seek`] (or
    /// before the next operation). A second one before that is refused, as tokio's
    /// trait allows, with an error that says what to do.
    #[cfg(feature = "tokio-io")]
    pub(crate) fn start_seek(&mut self, pos: SeekFrom) -> io::Result<()> {
        if self.started_seek.is_some() {
            return Err(io::Error::other(
                "weft: a seek is already started on this file: call poll_complete before start_seek",
            ));
        }
        self.started_seek = Some(pos);
        Ok(())
    }

    /// Makes the started seek, if any (flushing and dropping read-ahead as every seek
    /// does), and returns where it left the file; with none started, the last such
    /// position, at once.
    pub(crate) fn poll_started_seek(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let Some(pos) = self.started_seek else {
            return Poll::Ready(Ok(self.last_seek));
        };
        let r = ready!(self.io.poll_seek(cx, pos));
        self.started_seek = None;
        if let Ok(at) = r {
            self.last_seek = at;
        }
        Poll::Ready(r)
    }

    /// Runs `f` on the std file after a flush, in one blocking call.
    async fn flushed<F>(&mut self, f: F) -> io::Result<()>
    where
        F: FnOnce(&std::fs::File) -> io::Result<()> + Send + 'static,
    {
        let mut f = Some(move |raw: &mut FileRaw| f(&raw.0));
        std::future::poll_fn(|cx| {
            ready!(self.poll_started_seek(cx))?;
            self.io.poll_other(cx, &mut f)
        })
        .await
    }

    /// Flushes, then makes data and metadata durable ([`std::fs::File::sync_all`]).
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.flushed(|f| f.sync_all()).await
    }

    /// Flushes, then makes the data durable ([`std::fs::File::sync_data`]).
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.flushed(|f| f.sync_data()).await
    }

    /// Flushes, then truncates or extends the file to `size` bytes; the position does
    /// not move ([`std::fs::File::set_len`]).
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.flushed(move |f| f.set_len(size)).await
    }

    /// The file's metadata. Does not wait for the buffer: bytes not yet flushed are not
    /// counted in its length.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// Changes the file's permissions.
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        let std = self.std.clone();
        asyncify(move || std.set_permissions(perm)).await
    }

    /// A new `File` on the same open file (a duplicated descriptor), with its own
    /// buffer; the OS position is shared, so flush before using both.
    pub async fn try_clone(&self) -> io::Result<File> {
        let std = self.std.clone();
        asyncify(move || std.try_clone()).await.map(File::from_std)
    }

    /// Flushes, then gives back the std file, at the caller's position (read-ahead is
    /// given back to the OS by a seek). An error if the flush or that seek fails.
    pub async fn into_std(mut self) -> io::Result<std::fs::File> {
        std::future::poll_fn(|cx| self.poll_started_seek(cx)).await?;
        let File { std, mut io, .. } = self;
        std::future::poll_fn(|cx| io.poll_flush(cx)).await?;
        let raw = std::future::poll_fn(|cx| io.poll_into_raw(cx)).await?;
        drop(raw);
        // A `metadata` call whose future was dropped may still hold the file a moment:
        // then hand out a duplicate descriptor (same open file, same position).
        match Arc::try_unwrap(std) {
            Ok(f) => Ok(f),
            Err(shared) => shared.try_clone(),
        }
    }

    #[cfg(test)]
    pub(crate) fn hops(&self) -> u64 {
        self.io.hops()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.std.as_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.std.as_raw_fd()
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

impl futures_lite::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        ready!(me.poll_started_seek(cx))?;
        me.io.poll_read(cx, buf)
    }
}

impl futures_lite::AsyncBufRead for File {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let me = self.get_mut();
        ready!(me.poll_started_seek(cx))?;
        me.io.poll_fill_buf(cx)
    }
    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().io.consume(amt)
    }
}

impl futures_lite::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        ready!(me.poll_started_seek(cx))?;
        me.io.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_started_seek(cx))?;
        me.io.poll_flush(cx)
    }
    /// Flushes; the descriptor itself is closed when the `File` drops.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_lite::AsyncWrite::poll_flush(self, cx)
    }
}

impl futures_lite::AsyncSeek for File {
    /// Flushes, then seeks; the read-ahead is dropped (a `Current` offset counts from the
    /// caller's position, not the read-ahead's).
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let me = self.get_mut();
        ready!(me.poll_started_seek(cx))?;
        me.io.poll_seek(cx, pos)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("io", &self.io)
            .finish()
    }
}

/// How to open a file: [`std::fs::OpenOptions`]'s builder, with an async
/// [`open`](OpenOptions::open).
///
/// ```
/// use weft::io::AsyncWriteExt;
///
/// weft::run(async {
///     let path = std::env::temp_dir().join(format!("weft-append-doc-{}", std::process::id()));
///     weft::fs::write(&path, "a").await.unwrap();
///     let mut file = weft::fs::OpenOptions::new().append(true).open(&path).await.unwrap();
///     file.write_all(b"b").await.unwrap();
///     file.flush().await.unwrap();
///     assert_eq!(weft::fs::read(&path).await.unwrap(), b"ab");
///     weft::fs::remove_file(&path).await.unwrap();
/// });
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// All options off.
    pub fn new() -> Self {
        OpenOptions(std::fs::OpenOptions::new())
    }
    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.0.read(read);
        self
    }
    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.0.write(write);
        self
    }
    /// Every write goes to the end of the file.
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.0.append(append);
        self
    }
    /// Truncate to length 0 on opening (needs `write`).
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.0.truncate(truncate);
        self
    }
    /// Create the file if missing (needs `write` or `append`).
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.0.create(create);
        self
    }
    /// Create the file, failing if it exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.0.create_new(create_new);
        self
    }
    /// The permission bits of a created file (Unix, before the umask).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }
    /// Extra `open(2)` flags (Unix).
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }
    /// Opens `path` with these options, in one blocking call.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (opts, path) = (self.0.clone(), owned(path));
        asyncify(move || opts.open(path)).await.map(File::from_std)
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(std: std::fs::OpenOptions) -> Self {
        OpenOptions(std)
    }
}

#[cfg(test)]
mod tests {
    use super::File;
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn small_writes_and_reads_share_blocking_calls() {
        crate::run(async {
            let path = std::env::temp_dir().join(format!("weft-fs-hops-{}", std::process::id()));
            let mut f = File::create(&path).await.unwrap();
            for i in 0..10_000u32 {
                f.write_all(&i.to_le_bytes()).await.unwrap();
            }
            f.flush().await.unwrap();
            // 40,000 bytes fit in one 64 KiB buffer: the flush is the only call.
            assert_eq!(f.hops(), 1);
            drop(f);

            let mut f = File::open(&path).await.unwrap();
            let mut word = [0; 4];
            for i in 0..10_000u32 {
                f.read_exact(&mut word).await.unwrap();
                assert_eq!(u32::from_le_bytes(word), i);
            }
            // 16 KiB read-ahead per call: 3 calls for 40,000 bytes.
            assert!(f.hops() <= 4, "{} blocking calls", f.hops());
            std::fs::remove_file(&path).unwrap();
        });
    }
}
