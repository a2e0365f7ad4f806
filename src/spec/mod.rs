//! Declarative OSDs: cephadm's OSD service specification read (`parse`, with `size` for its
//! size filters), matched against this host's disks (`select`, pure: which disk each spec
//! takes and why every other one was not taken), and applied through the `osd prepare`
//! engine (`apply`). docs/spec.md.

pub mod apply;
pub mod parse;
pub mod select;
pub mod size;
