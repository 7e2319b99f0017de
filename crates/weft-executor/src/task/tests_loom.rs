//! Loom models of the task state machine (written next).
