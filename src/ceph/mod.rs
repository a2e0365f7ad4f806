//! Ceph access: configuration discovery (`conf`), the client trait and its librados
//! implementation (`client`), typed monitor commands (`commands`), and the cluster's release
//! with the choices that depend on it (`release`).

pub mod client;
pub mod commands;
pub mod conf;
pub mod double;
pub mod release;
