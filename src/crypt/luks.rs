//! LUKS through `cryptsetup`, with ceph-volume's arguments (16.2's `util/encryption.py`):
//! `--batch-mode --key-size 512 --key-file - luksFormat DEV` (LUKS2) and `--key-size 512
//! --key-file - --allow-discards luksOpen DEV NAME`, the key always on stdin. One difference:
//! every keyslot cephboot adds derives with PBKDF2 at cryptsetup's floor of 1000 iterations
//! ([`KEYSLOT_PBKDF`]) instead of argon2id's benchmarked 2 s and up to 1 GiB of memory per
//! open: the keys are 1024 random bits, which no key derivation needs to stretch (systemd-
//! cryptenroll derives its TPM2 slots the same way), and a host opening 60 OSDs at boot must not
//! spend minutes or gigabytes doing it. Any cryptsetup (ceph-volume's too) opens such a slot. A mapping is named after the PARTUUID of the partition it opens, as
//! ceph-volume names a partition's (and ceph-disk named every one): `/dev/mapper/<partuuid>`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::key::DmcryptKey;
use crate::error::{Error, Result};
use crate::exec;

/// How many bytes at the start of a LUKS device hold its headers and keyslots: LUKS2's two
/// header copies and its keyslot area end before cryptsetup's default data offset of 16 MiB
/// (LUKS1's keyslots end at 2 MiB). Zeroing them makes the data unreadable for good.
pub const HEADER_AREA: u64 = 16 << 20;

/// The key derivation of every keyslot cephboot adds (see the module's doc).
pub const KEYSLOT_PBKDF: [&str; 4] = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"];

/// The device-mapper name of the mapping that opens the partition with this PARTUUID.
pub fn mapping_name(partuuid: &uuid::Uuid) -> String {
    partuuid.to_string()
}

/// `/dev/mapper/<name>`.
pub fn mapper_path(name: &str) -> PathBuf {
    Path::new("/dev/mapper").join(name)
}

/// Whether the mapping exists.
pub fn is_open(name: &str) -> bool {
    mapper_path(name).exists()
}

/// Formats `dev` as LUKS with `key`.
pub fn format(dev: &Path, key: &DmcryptKey) -> Result<()> {
    let d = dev.display().to_string();
    let mut args = vec!["--batch-mode", "--key-size", "512"];
    args.extend(KEYSLOT_PBKDF);
    args.extend(["--key-file", "-", "luksFormat", &d]);
    exec::run(
        "cryptsetup",
        &args,
        Some(key.expose()),
        Duration::from_secs(300),
    )
    .map(|_| ())
}

/// Opens `dev` as `/dev/mapper/<name>` with `key` (nothing when it is open already).
pub fn open(dev: &Path, name: &str, key: &DmcryptKey) -> Result<PathBuf> {
    if !is_open(name) {
        let d = dev.display().to_string();
        exec::run(
            "cryptsetup",
            &[
                "--key-size",
                "512",
                "--key-file",
                "-",
                "--allow-discards",
                "luksOpen",
                &d,
                name,
            ],
            Some(key.expose()),
            Duration::from_secs(300),
        )?;
    }
    Ok(mapper_path(name))
}

/// Whether `key` opens `dev` (a keyslot takes it), without mapping anything.
pub fn key_opens(dev: &Path, key: &DmcryptKey) -> Result<bool> {
    let d = dev.display().to_string();
    match exec::run(
        "cryptsetup",
        &["--key-file", "-", "--test-passphrase", "luksOpen", &d],
        Some(key.expose()),
        Duration::from_secs(300),
    ) {
        Ok(_) => Ok(true),
        Err(Error::Command { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Closes `/dev/mapper/<name>`; `false` when it was not open. Fails while something holds it
/// (a running ceph-osd).
pub fn close(name: &str) -> Result<bool> {
    if !is_open(name) {
        return Ok(false);
    }
    exec::run(
        "cryptsetup",
        &["close", name],
        None,
        Duration::from_secs(60),
    )
    .map_err(|e| Error::Device {
        device: mapper_path(name),
        message: format!("{e}; stop what uses it (its ceph-osd) first"),
    })?;
    Ok(true)
}

/// Closes every mapping of `names` that is open; the first error after trying them all.
pub fn close_all(names: &[String]) -> Result<Vec<String>> {
    let mut closed = Vec::new();
    let mut first_err = None;
    for n in names {
        match close(n) {
            Ok(true) => closed.push(n.clone()),
            Ok(false) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(closed),
    }
}

/// Opens every `(device, mapping name)` as one unit: all are open afterwards, or (on the
/// first failure) those this call opened are closed again and the error returned. Returns the
/// mapper paths in the order given.
pub fn open_all(devices: &[(PathBuf, String)], key: &DmcryptKey) -> Result<Vec<PathBuf>> {
    open_all_with(devices, |dev, name| open(dev, name, key))
}

/// [`open_all`] with another way of opening each device (its TPM2 token, say).
pub fn open_all_with(
    devices: &[(PathBuf, String)],
    open: impl Fn(&Path, &str) -> Result<PathBuf>,
) -> Result<Vec<PathBuf>> {
    let mut opened_here: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    for (dev, name) in devices {
        let was_open = is_open(name);
        match open(dev, name) {
            Ok(p) => {
                if !was_open {
                    opened_here.push(name.clone());
                }
                paths.push(p);
            }
            Err(e) => {
                // No half-open OSD is left mapped.
                let _ = close_all(&opened_here);
                return Err(Error::Device {
                    device: dev.clone(),
                    message: format!(
                        "could not be opened ({e}); none of this OSD's devices is left open"
                    ),
                });
            }
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_named_after_its_partuuid() {
        let u = uuid::Uuid::parse_str("0b6f7c3e-2f4a-4d8e-9a51-3c2d1e0f9a8b").unwrap();
        assert_eq!(mapping_name(&u), "0b6f7c3e-2f4a-4d8e-9a51-3c2d1e0f9a8b");
        assert_eq!(
            mapper_path(&mapping_name(&u)),
            PathBuf::from("/dev/mapper/0b6f7c3e-2f4a-4d8e-9a51-3c2d1e0f9a8b")
        );
    }
}
