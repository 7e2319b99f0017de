//! Files and directories, on weft's blocking pool (names as `tokio::fs`).
//!
//! Each function is one std operation in one call to
//! [`spawn_blocking`](crate::task::spawn_blocking): `weft::fs::read(p).await` is
//! `std::fs::read(p)` run off the async workers. A [`File`] buffers, so that many small
//! reads or writes share one blocking call.
//!
//! ```
//! use weft::io::AsyncWriteExt;
//!
//! weft::run(async {
//!     let dir = std::env::temp_dir().join(format!("weft-fs-doc-{}", std::process::id()));
//!     weft::fs::create_dir_all(&dir).await.unwrap();
//!     let path = dir.join("hello.txt");
//!
//!     let mut file = weft::fs::File::create(&path).await.unwrap();
//!     file.write_all(b"hello, ").await.unwrap();
//!     file.write_all(b"world").await.unwrap();
//!     file.flush().await.unwrap(); // the bytes reach the OS here
//!
//!     assert_eq!(weft::fs::read_to_string(&path).await.unwrap(), "hello, world");
//!     weft::fs::remove_dir_all(&dir).await.unwrap();
//! });
//! ```
//!
//! # Panics
//!
//! Every operation runs on the current weft runtime's blocking pool, so polling one
//! outside a runtime panics (as `spawn_blocking` does).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use weft_executor::JoinHandle;

mod file;

pub use file::{File, OpenOptions};
pub use std::fs::{FileType, Metadata, Permissions};

/// Runs one blocking std operation on the pool; a failed task (a panic, or the runtime
/// shutting down first) comes back as an `io::Error`.
pub(crate) async fn asyncify<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match weft_executor::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(e.into()),
    }
}

fn owned(path: impl AsRef<Path>) -> PathBuf {
    path.as_ref().to_owned()
}

/// Reads a whole file into bytes ([`std::fs::read`]).
///
/// ```
/// weft::run(async {
///     let err = weft::fs::read("/no/such/file").await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = owned(path);
    asyncify(move || std::fs::read(path)).await
}

/// Reads a whole file into a string ([`std::fs::read_to_string`]).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = owned(path);
    asyncify(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` as the whole file, creating or truncating it ([`std::fs::write`]).
///
/// ```
/// weft::run(async {
///     let path = std::env::temp_dir().join(format!("weft-write-doc-{}", std::process::id()));
///     weft::fs::write(&path, "some text").await.unwrap();
///     assert_eq!(weft::fs::read(&path).await.unwrap(), b"some text");
///     weft::fs::remove_file(&path).await.unwrap();
/// });
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = owned(path);
    // Copied: the blocking call outlives the borrow.
    let contents = contents.as_ref().to_owned();
    asyncify(move || std::fs::write(path, contents)).await
}

/// Copies a file's contents and permissions; returns the bytes copied ([`std::fs::copy`]).
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (owned(from), owned(to));
    asyncify(move || std::fs::copy(from, to)).await
}

/// Renames a file or directory, replacing `to` if it is a file ([`std::fs::rename`]).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (owned(from), owned(to));
    asyncify(move || std::fs::rename(from, to)).await
}

/// Creates a hard link ([`std::fs::hard_link`]).
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (owned(original), owned(link));
    asyncify(move || std::fs::hard_link(original, link)).await
}

/// Creates a symbolic link at `link` pointing to `original` (Unix).
#[cfg(unix)]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (owned(original), owned(link));
    asyncify(move || std::os::unix::fs::symlink(original, link)).await
}

/// Reads where a symbolic link points ([`std::fs::read_link`]).
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = owned(path);
    asyncify(move || std::fs::read_link(path)).await
}

/// Removes a file ([`std::fs::remove_file`]).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::remove_file(path)).await
}

/// Removes an empty directory ([`std::fs::remove_dir`]).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::remove_dir(path)).await
}

/// Removes a directory and everything in it ([`std::fs::remove_dir_all`]), in one
/// blocking call however large the tree.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// Creates a directory; its parent must exist ([`std::fs::create_dir`]).
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates a directory and any missing parents ([`std::fs::create_dir_all`]).
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// A path's metadata, following symbolic links ([`std::fs::metadata`]).
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    asyncify(move || std::fs::metadata(path)).await
}

/// A path's metadata, not following a final symbolic link ([`std::fs::symlink_metadata`]).
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// The absolute path with every link and `..` resolved ([`std::fs::canonicalize`]).
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = owned(path);
    asyncify(move || std::fs::canonicalize(path)).await
}

/// Sets a path's permissions ([`std::fs::set_permissions`]).
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = owned(path);
    asyncify(move || std::fs::set_permissions(path, perm)).await
}

/// Whether a path exists; an error if that cannot be told ([`std::fs::exists`]).
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = owned(path);
    asyncify(move || path.try_exists()).await
}

/// Entries read per blocking call by [`ReadDir`].
const DIR_BATCH: usize = 32;

/// The entries of a directory, as a [`Stream`](crate::stream::Stream) of
/// `io::Result<DirEntry>` or through [`next_entry`](ReadDir::next_entry).
///
/// ```
/// use weft::stream::StreamExt;
///
/// weft::run(async {
///     let dir = std::env::temp_dir().join(format!("weft-read-dir-doc-{}", std::process::id()));
///     weft::fs::create_dir_all(&dir).await.unwrap();
///     weft::fs::write(dir.join("a"), "").await.unwrap();
///
///     let mut entries = weft::fs::read_dir(&dir).await.unwrap();
///     while let Some(entry) = entries.next_entry().await.unwrap() {
///         assert_eq!(entry.file_name(), "a");
///     }
///     // Or as a stream:
///     let names: Vec<_> = weft::fs::read_dir(&dir).await.unwrap().collect().await;
///     assert_eq!(names.len(), 1);
///     weft::fs::remove_dir_all(&dir).await.unwrap();
/// });
/// ```
///
/// Entries come 32 per blocking call. Dropping a `ReadDir` while a
/// batch is being read is safe: the batch is finished on the pool and dropped.
pub struct ReadDir {
    state: DirState,
}

struct Batch {
    iter: std::fs::ReadDir,
    ready: VecDeque<io::Result<DirEntry>>,
    done: bool,
}

enum DirState {
    /// `None` after the end, or once a batch's task failed.
    Idle(Option<Batch>),
    Busy(JoinHandle<Batch>),
}

/// Opens a directory to list its entries ([`std::fs::read_dir`]); `.` and `..` are left
/// out, and the order is the file system's.
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = owned(path);
    let iter = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        state: DirState::Idle(Some(Batch {
            iter,
            ready: VecDeque::new(),
            done: false,
        })),
    })
}

impl ReadDir {
    /// The next entry, or `None` at the end. Cancellation safe: an entry read in a call
    /// that was dropped is returned by the next call.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        std::future::poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry, or `None` at the end.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.state {
                DirState::Idle(slot) => {
                    let Some(b) = slot.as_mut() else {
                        return Poll::Ready(Ok(None));
                    };
                    if let Some(e) = b.ready.pop_front() {
                        return Poll::Ready(e.map(Some));
                    }
                    if b.done {
                        *slot = None;
                        return Poll::Ready(Ok(None));
                    }
                    let Some(mut b) = slot.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    self.state = DirState::Busy(weft_executor::spawn_blocking(move || {
                        for _ in 0..DIR_BATCH {
                            match b.iter.next() {
                                Some(e) => b.ready.push_back(e.map(DirEntry::new)),
                                None => {
                                    b.done = true;
                                    break;
                                }
                            }
                        }
                        b
                    }));
                }
                DirState::Busy(h) => match ready!(Pin::new(h).poll(cx)) {
                    Ok(b) => self.state = DirState::Idle(Some(b)),
                    Err(e) => {
                        self.state = DirState::Idle(None);
                        return Poll::Ready(Err(e.into()));
                    }
                },
            }
        }
    }
}

impl futures_lite::Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            DirState::Idle(Some(_)) => "idle",
            DirState::Idle(None) => "done",
            DirState::Busy(_) => "busy",
        };
        f.debug_struct("ReadDir").field("state", &state).finish()
    }
}

/// One entry of a [`ReadDir`].
#[derive(Clone)]
pub struct DirEntry {
    std: Arc<std::fs::DirEntry>,
    /// Asked while the batch was read, where the OS gives it for free (Linux's `d_type`).
    file_type: Option<FileType>,
}

impl DirEntry {
    fn new(std: std::fs::DirEntry) -> Self {
        let file_type = std.file_type().ok();
        DirEntry {
            std: Arc::new(std),
            file_type,
        }
    }

    /// The directory's path joined with this entry's name.
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name, without its directory.
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's metadata, not following a symbolic link ([`std::fs::DirEntry::metadata`]).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// The entry's file type, not following a symbolic link.
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(t) = self.file_type {
            return Ok(t);
        }
        let std = self.std.clone();
        asyncify(move || std.file_type()).await
    }

    /// The entry's inode number (Unix).
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.std)
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.path()).finish()
    }
}
