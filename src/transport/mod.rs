//! Transports: each moves bytes between clients and the shared [`crate::dispatch`] layer and
//! knows no method names.

pub mod stdio;
