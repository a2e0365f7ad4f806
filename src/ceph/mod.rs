//! Ceph access: configuration discovery (`conf`), the client trait and its librados
//! implementation (`client`), typed monitor commands (`commands`), the cluster's release with
//! the choices that depend on it (`release`), and PG statistics made current before they
//! are judged (`stats`).

pub mod client;
pub mod commands;
pub mod conf;
pub mod double;
pub mod release;
pub mod stats;
