//! OpenStack pools: the sizing policy (`policy`, pure) and applying it (`init`).

pub mod init;
pub mod policy;
