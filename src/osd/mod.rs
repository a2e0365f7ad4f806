//! OSDs: resolving device arguments (`target`), planning (`plan`, pure), preparing
//! (`prepare`), activating (`activate`) and listing (`list`).

pub mod activate;
pub mod plan;
pub mod prepare;
pub mod target;
