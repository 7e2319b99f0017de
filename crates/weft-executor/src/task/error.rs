//! The error a `JoinHandle` resolves to when its task did not produce an output.

use super::id::Id;
use std::any::Any;
use std::fmt;

/// Why a task ended without an output: it was cancelled, or it panicked.
///
/// # Examples
///
/// ```
/// let rt = weft_executor::Runtime::new().unwrap();
/// let err = rt.block_on(async {
///     weft_executor::spawn(async { panic!("boom") }).await.unwrap_err()
/// });
/// assert!(err.is_panic());
/// let payload = err.into_panic();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// ```
pub struct JoinError {
    id: Id,
    repr: Repr,
}

// SAFETY: the only thing not `Sync` inside is the panic payload (`Box<dyn Any + Send>`).
// Through `&JoinError` the payload is only downcast to `&str` or `String` (`Display`,
// `Debug`), which reads it only if it is one of those, both `Sync`; every other access
// takes the error by value. So sharing a `&JoinError` between threads shares no `!Sync`
// value. (tokio's JoinError is `Sync` for the same reason.)
unsafe impl Sync for JoinError {}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(payload),
        }
    }

    /// The id of the task that failed (see [`JoinHandle::id`](crate::JoinHandle::id)).
    pub fn id(&self) -> Id {
        self.id
    }

    /// True if the task was cancelled: aborted, or dropped at runtime shutdown.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic's payload.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicking; use [`try_into_panic`](Self::try_into_panic)
    /// to check first. To re-raise the task's panic in the caller, pass the payload to
    /// [`std::panic::resume_unwind`].
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.repr {
            Repr::Panic(p) => p,
            Repr::Cancelled => panic!(
                "`JoinError::into_panic` called on a cancelled task's error; check \
                 `is_panic()` first, or use `try_into_panic`"
            ),
        }
    }

    /// The panic's payload, or the error itself if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(self),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(p) => match crate::unwind::panic_message(p.as_ref()) {
                Some(msg) => write!(f, "task {} panicked: {msg}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({:?})", self.id),
            Repr::Panic(p) => match crate::unwind::panic_message(p.as_ref()) {
                Some(msg) => write!(f, "JoinError::Panic({:?}, {msg:?})", self.id),
                None => write!(f, "JoinError::Panic({:?}, ..)", self.id),
            },
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    /// An `io::Error` of kind `Other` carrying the error's message.
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}
