//! Encrypted OSDs, interchangeable with ceph-volume's: the key (`key`), LUKS through
//! cryptsetup (`luks`), and where the key is kept (`custody`). See docs/encryption.md.

pub mod custody;
pub mod key;
pub mod luks;
pub mod mappings;
pub mod recovery;
