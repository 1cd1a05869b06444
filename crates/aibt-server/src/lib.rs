//! Filled by a later change.
