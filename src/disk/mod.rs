//! The device model: discovery (`inventory`, `gpt`, `label`; `listing` for `disks list`), the pure verdict (`classify`),
//! the JSON record (`report`), and the acting parts (`guard`, `wipe`, `table`, `sync`) that
//! go through the `blockops` trait.

pub mod blockops;
pub mod bluestore;
pub mod busy;
pub mod classify;
pub mod gpt;
pub mod guard;
pub mod identity;
pub mod inventory;
pub mod label;
pub mod listing;
pub mod lock;
pub mod policy;
pub mod prefetch;
pub mod report;
pub mod rewrite;
pub mod sync;
pub mod table;
pub mod types;
pub mod uevent;
pub mod wipe;
pub mod zap;
