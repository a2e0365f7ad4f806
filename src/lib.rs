//! cephboot: turns raw disks into running Ceph OSDs and wires the result into OpenStack.
//!
//! The library holds the engine; `main.rs` is the command line. Deciding code (`disk::classify`,
//! `disk::label`, the plans) is pure; acting code goes through narrow traits. Every `unsafe`
//! line lives in the `cephboot-ffi` crate.
#![forbid(unsafe_code)]
// Output goes through crate::outln!/out! (quiet on EPIPE) and crate::errln! (never panics).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod action;
pub mod ceph;
pub mod cli;
pub mod cluster;
pub mod crypt;
pub mod daemon;
pub mod disk;
pub mod error;
pub mod exec;
pub mod files;
pub mod host;
pub mod openstack;
pub mod osd;
pub mod pools;
pub mod progress;
pub mod spec;
pub mod supervise;
