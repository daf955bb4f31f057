//! Circuit tests (MockProver) that need crate internals.
