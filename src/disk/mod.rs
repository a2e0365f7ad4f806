//! The device model: discovery (`inventory`, `gpt`, `label`), the pure verdict (`classify`),
//! the JSON record (`report`), and the acting parts (`guard`, `wipe`, `table`, `sync`) that
//! go through the `blockops` trait.

pub mod classify;
pub mod gpt;
pub mod inventory;
pub mod label;
pub mod report;
pub mod types;
