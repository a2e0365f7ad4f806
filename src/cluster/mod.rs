//! A cluster on this host (`bootstrap`, `stop`), further hosts joining it (`join`), and the
//! daemons cephboot starts (`daemons`).

pub mod bootstrap;
pub mod daemons;
pub mod join;
