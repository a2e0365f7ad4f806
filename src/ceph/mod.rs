//! Ceph access: configuration discovery (`conf`), and the client the engine talks to.

pub mod conf;
