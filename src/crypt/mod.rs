//! Encrypted OSDs, interchangeable with ceph-volume's: the key (`key`), LUKS through
//! cryptsetup (`luks`), where the key is kept (`custody`), recovery keys (`recovery`) and TPM2
//! keyslots (`tpm2`). See docs/encryption.md.

pub mod custody;
pub mod key;
pub mod luks;
pub mod mappings;
pub mod recovery;
pub mod tpm2;
