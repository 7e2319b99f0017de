//! `CancellationToken`: a tree of cancellation flags with async waiting.
//!
//! Each token handle points at a node. A node holds its flag, an [`Event`] for waiters,
//! and, under its mutex, its live children and a link to its parent. Cancelling a node
//! cancels its subtree; a node whose handles are all dropped and which has no children
//! left unlinks itself from its parent, so a long-lived parent does not collect dead
//! children. Rules kept throughout: no two node locks are held at once, and no waker is
//! woken or dropped while a node lock is held (`Event::notify` and every `Arc<Node>`
//! drop happen after the guard is released).

use event_listener::{Event, EventListener};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

struct Node {
    /// Set once, under `state`'s lock; read without it.
    cancelled: AtomicBool,
    /// Waiters of `cancelled()`; notified (all of them) after the flag is set.
    event: Event,
    state: Mutex<State>,
}

struct State {
    /// `CancellationToken` handles pointing at this node.
    handles: usize,
    /// Live, uncancelled children, by id.
    children: HashMap<u64, Arc<Node>>,
    /// The parent and this node's id in its `children`; `None` once unlinked (cancelled,
    /// or dead), or for a root.
    parent: Option<(Arc<Node>, u64)>,
}

impl Node {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the state is still
        // consistent (each update is a single assignment or map operation).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new(parent: Option<(Arc<Node>, u64)>, cancelled: bool) -> Arc<Node> {
        Arc::new(Node {
            cancelled: AtomicBool::new(cancelled),
            event: Event::new(),
            state: Mutex::new(State {
                handles: 1,
                children: HashMap::new(),
                parent,
            }),
        })
    }
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Removes child `id` from `parent`; then, while the node left behind has no handle and
/// no child, unlinks that one from its own parent, and so on up.
fn unlink(mut parent: Arc<Node>, mut id: u64) {
    loop {
        let mut state = parent.lock();
        let removed = state.children.remove(&id);
        let next = if state.handles == 0 && state.children.is_empty() {
            state.parent.take()
        } else {
            None
        };
        drop(state);
        drop(removed); // may be the child's last reference: dropped unlocked
        match next {
            Some((grandparent, parent_id)) => {
                parent = grandparent;
                id = parent_id;
            }
            None => return,
        }
    }
}

/// Cancels `node` and its whole subtree, without recursion.
fn cancel_tree(node: &Arc<Node>) {
    let mut todo = vec![node.clone()];
    let mut first = true;
    while let Some(node) = todo.pop() {
        let mut state = node.lock();
        if node.cancelled.load(Ordering::Acquire) {
            continue;
        }
        node.cancelled.store(true, Ordering::Release);
        let children = std::mem::take(&mut state.children);
        let parent = state.parent.take();
        drop(state);
        node.event.notify(usize::MAX);
        // Only the node cancelled directly needs to leave its parent's map: its
        // descendants were taken out of their parents' maps just above.
        if first {
            if let Some((parent, id)) = parent {
                unlink(parent, id);
            }
        }
        first = false;
        todo.extend(children.into_values());
    }
}

/// A token that signals cancellation to any number of tasks (as tokio-util's).
///
/// Clones share one flag. [`child_token`](Self::child_token) makes a token that is
/// cancelled with its parent, but can also be cancelled alone. Cancelling is permanent.
///
/// ```
/// use weft::sync::CancellationToken;
///
/// weft::run(async {
///     let token = CancellationToken::new();
///     let child = token.child_token();
///     let worker = weft::spawn(async move {
///         child.cancelled().await; // a server loop would stop here
///         "stopped"
///     });
///     token.cancel();
///     assert_eq!(worker.await.unwrap(), "stopped");
/// });
/// ```
pub struct CancellationToken {
    node: Arc<Node>,
}

impl CancellationToken {
    /// A new, uncancelled root token.
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Node::new(None, false),
        }
    }

    /// A token cancelled when this one is (or when cancelled itself; that does not
    /// cancel this one). A child of a token that is already cancelled starts cancelled.
    pub fn child_token(&self) -> CancellationToken {
        let mut state = self.node.lock();
        if self.node.cancelled.load(Ordering::Acquire) {
            drop(state);
            return CancellationToken {
                node: Node::new(None, true),
            };
        }
        let id = next_id();
        let child = Node::new(Some((self.node.clone(), id)), false);
        state.children.insert(id, child.clone());
        drop(state);
        CancellationToken { node: child }
    }

    /// Cancels this token and every token derived from it, waking every task waiting on
    /// [`cancelled`](Self::cancelled). Idempotent.
    pub fn cancel(&self) {
        cancel_tree(&self.node);
    }

    /// Whether this token (or an ancestor) has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::Acquire)
    }

    /// Completes once the token is cancelled (at once if it already is).
    ///
    /// Cancellation-safe: dropping the future loses nothing, a new one sees the flag.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        WaitForCancellationFuture {
            node: &self.node,
            listener: None,
        }
    }

    /// As [`cancelled`](Self::cancelled), owning the token: a `'static` future.
    pub fn cancelled_owned(self) -> WaitForCancellationFutureOwned {
        WaitForCancellationFutureOwned {
            token: self,
            listener: None,
        }
    }

    /// A guard that cancels this token when dropped (unless
    /// [disarmed](DropGuard::disarm)).
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }

    /// Children currently linked to this token: children that are alive (a handle or a
    /// live child of their own) and not cancelled. For tests of the unlinking.
    #[doc(hidden)]
    pub fn __linked_children(&self) -> usize {
        self.node.lock().children.len()
    }
}

impl Default for CancellationToken {
    fn default() -> CancellationToken {
        CancellationToken::new()
    }
}

impl Clone for CancellationToken {
    fn clone(&self) -> CancellationToken {
        self.node.lock().handles += 1;
        CancellationToken {
            node: self.node.clone(),
        }
    }
}

impl Drop for CancellationToken {
    fn drop(&mut self) {
        let mut state = self.node.lock();
        state.handles -= 1;
        let parent = if state.handles == 0 && state.children.is_empty() {
            state.parent.take()
        } else {
            None
        };
        drop(state);
        if let Some((parent, id)) = parent {
            unlink(parent, id);
        }
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

fn poll_cancelled(
    node: &Node,
    listener: &mut Option<EventListener>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    loop {
        if node.cancelled.load(Ordering::Acquire) {
            *listener = None;
            return Poll::Ready(());
        }
        match listener {
            // Registered before the flag is checked again: a cancel in between notifies it.
            None => *listener = Some(node.event.listen()),
            Some(l) => match Pin::new(l).poll(cx) {
                Poll::Ready(()) => *listener = None,
                Poll::Pending => return Poll::Pending,
            },
        }
    }
}

/// The future of [`CancellationToken::cancelled`].
pub struct WaitForCancellationFuture<'a> {
    node: &'a Arc<Node>,
    listener: Option<EventListener>,
}

impl Future for WaitForCancellationFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_cancelled(this.node, &mut this.listener, cx)
    }
}

impl fmt::Debug for WaitForCancellationFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationFuture")
            .finish_non_exhaustive()
    }
}

/// The future of [`CancellationToken::cancelled_owned`].
pub struct WaitForCancellationFutureOwned {
    token: CancellationToken,
    listener: Option<EventListener>,
}

impl Future for WaitForCancellationFutureOwned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_cancelled(&this.token.node, &mut this.listener, cx)
    }
}

impl fmt::Debug for WaitForCancellationFutureOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationFutureOwned")
            .finish_non_exhaustive()
    }
}

/// Cancels its token when dropped; see [`CancellationToken::drop_guard`].
#[derive(Debug)]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a DropGuard holds its token until dropped or disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}
