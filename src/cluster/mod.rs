//! A single-node cluster on this host (`bootstrap`, `stop`) and the daemons cephboot starts
//! (`daemons`).

pub mod bootstrap;
pub mod daemons;
