//! Ceph access: configuration discovery (`conf`), the client trait and its librados
//! implementation (`client`), and typed monitor commands (`commands`).

pub mod client;
pub mod commands;
pub mod conf;
