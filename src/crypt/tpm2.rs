//! TPM 2.0 keyslots: an encrypted OSD that opens without the monitors. `systemd-cryptenroll
//! --tpm2-device=auto --tpm2-pcrs=PCRS DEV` seals a new random passphrase to the host's TPM
//! (bound to the PCRs named; 7, the Secure Boot policy, by default, so that a new kernel or
//! initramfs does not lock the OSD out) and stores it as its own LUKS2 keyslot with a
//! `systemd-tpm2` token beside the monitors' key; the existing key authorises the enrolment
//! and reaches systemd-cryptenroll in a private file on tmpfs (it cannot read a pipe), never
//! on a command line. `systemd-cryptsetup attach NAME DEV - tpm2-device=auto,headless=true` opens a device
//! through its token, failing (never prompting) when the TPM does not unseal it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::key::DmcryptKey;
use crate::error::{Error, Result};
use crate::exec;

/// The PCRs a keyslot is bound to unless told otherwise: 7 (the Secure Boot state), which a
/// kernel or initramfs update does not change.
pub const DEFAULT_PCRS: &str = "7";

/// The kernel's TPM resource manager: present when the host has a TPM 2.0.
pub const TPM_DEVICE: &str = "/dev/tpmrm0";

/// Checks, before anything is written, that this host can enroll a TPM2 keyslot: a TPM 2.0
/// and systemd-cryptenroll; `pcrs` must be a `+`- or `,`-separated list of PCR indexes 0-23.
pub fn check_host(pcrs: &str) -> Result<()> {
    parse_pcrs(pcrs).map_err(|e| Error::Usage(format!("--tpm2-pcrs {e}")))?;
    if !Path::new(TPM_DEVICE).exists() {
        return Err(Error::Usage(format!(
            "--tpm2: this host has no TPM 2.0 ({TPM_DEVICE} is missing); prepare without --tpm2 \
             (the monitors keep the key) and keep a recovery key (`cephboot osd key export`)"
        )));
    }
    exec::require(&["systemd-cryptenroll", "systemd-cryptsetup"])
}

/// The PCR indexes of a PCR list (`7`, `0+7`, `0,2,7`: `--tpm2-pcrs`, a spec's or the
/// daemon's `tpm2_pcrs`), checked; the error names the value only (each caller names where
/// it came from).
pub fn parse_pcrs(pcrs: &str) -> Result<Vec<u8>> {
    let bad = || {
        Error::Usage(format!(
            "{pcrs:?}: expected PCR indexes 0-23 separated by + (e.g. 7 or 0+7)"
        ))
    };
    let list: Vec<u8> = pcrs
        .split(['+', ','])
        .map(|p| {
            p.trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n < 24)
                .ok_or_else(bad)
        })
        .collect::<Result<_>>()?;
    if list.is_empty() {
        return Err(bad());
    }
    Ok(list)
}

/// Enrolls a TPM2 keyslot on `dev`, authorised by `key` (its existing passphrase).
/// systemd-cryptenroll reads the key from a file it can seek (not a pipe): the key is written
/// to a file of its own (0600) in a directory only root can enter (0700) on /run (tmpfs: never
/// on a disk), and overwritten and removed as soon as systemd-cryptenroll has exited.
pub fn enroll(dev: &Path, key: &DmcryptKey, pcrs: &str) -> Result<()> {
    let list = parse_pcrs(pcrs)?;
    let pcrs = list.iter().map(u8::to_string).collect::<Vec<_>>().join("+");
    let d = dev.display().to_string();
    let file = PrivateKeyFile::write(key)?;
    let unlock = format!("--unlock-key-file={}", file.path.display());
    exec::run(
        "systemd-cryptenroll",
        &[
            &unlock,
            "--tpm2-device=auto",
            &format!("--tpm2-pcrs={pcrs}"),
            &d,
        ],
        None,
        Duration::from_secs(300),
    )
    .map(|_| ())
}

/// Where [`PrivateKeyFile`]s live: tmpfs.
const KEY_DIR: &str = "/run/cephboot/keys";

/// A key in a file for a program that reads keys only from files; overwritten with zeros and
/// removed when dropped.
struct PrivateKeyFile {
    path: PathBuf,
    len: usize,
}

impl PrivateKeyFile {
    fn write(key: &DmcryptKey) -> Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let dir = Path::new(KEY_DIR);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating {KEY_DIR}"), e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("setting the mode of {KEY_DIR}"), e))?;
        let path = dir.join(format!("enroll.{}.{}", std::process::id(), unique()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let file = PrivateKeyFile {
            path,
            len: key.expose().len(),
        };
        f.write_all(key.expose())
            .map_err(|e| Error::io(format!("writing {}", file.path.display()), e))?;
        Ok(file)
    }
}

impl Drop for PrivateKeyFile {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, vec![0u8; self.len]);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A number no other key file of this process has.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// How many `systemd-tpm2` tokens the LUKS2 metadata of `dev` holds.
pub fn token_count(dev: &Path) -> Result<usize> {
    let d = dev.display().to_string();
    let out = exec::run(
        "cryptsetup",
        &["luksDump", "--dump-json-metadata", &d],
        None,
        Duration::from_secs(60),
    )?;
    Ok(tpm2_tokens(&out.stdout))
}

/// The number of `systemd-tpm2` tokens in LUKS2 JSON metadata (0 when it does not parse).
pub fn tpm2_tokens(metadata: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(metadata)
        .ok()
        .and_then(|v| {
            v.get("tokens").and_then(|t| t.as_object()).map(|t| {
                t.values()
                    .filter(|tok| tok.get("type").and_then(|x| x.as_str()) == Some("systemd-tpm2"))
                    .count()
            })
        })
        .unwrap_or(0)
}

/// Whether the TPM unseals a keyslot of `dev` (through its `systemd-tpm2` token, with
/// cryptsetup's systemd token plugin), mapping nothing.
pub fn opens(dev: &Path) -> Result<bool> {
    let d = dev.display().to_string();
    match exec::run(
        "cryptsetup",
        &[
            "open",
            "--test-passphrase",
            "--token-only",
            "--token-type",
            "systemd-tpm2",
            &d,
        ],
        None,
        Duration::from_secs(120),
    ) {
        Ok(_) => Ok(true),
        Err(Error::Command { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens `dev` as `/dev/mapper/<name>` through its TPM2 token (nothing when it is open).
pub fn open(dev: &Path, name: &str) -> Result<PathBuf> {
    if !super::luks::is_open(name) {
        let d = dev.display().to_string();
        exec::run(
            "systemd-cryptsetup",
            &[
                "attach",
                name,
                &d,
                "-",
                "tpm2-device=auto,headless=true,discard",
            ],
            None,
            Duration::from_secs(120),
        )?;
    }
    Ok(super::luks::mapper_path(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_lists_are_checked() {
        assert_eq!(parse_pcrs("7").unwrap(), vec![7]);
        assert_eq!(parse_pcrs("0+7").unwrap(), vec![0, 7]);
        assert_eq!(parse_pcrs("0,2,7").unwrap(), vec![0, 2, 7]);
        for bad in ["", "24", "7+", "seven", "-1"] {
            assert!(parse_pcrs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_key_file_is_private_and_gone_after_use() {
        if !nix_is_root() {
            return;
        }
        let key = DmcryptKey::generate().unwrap();
        let f = PrivateKeyFile::write(&key).unwrap();
        let path = f.path.clone();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(KEY_DIR).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(std::fs::read(&path).unwrap(), key.expose());
        drop(f);
        assert!(!path.exists());
    }

    fn nix_is_root() -> bool {
        std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false)
    }

    #[test]
    fn only_systemd_tpm2_tokens_count() {
        let meta = br#"{"keyslots":{"0":{},"1":{},"2":{}},
            "tokens":{"0":{"type":"systemd-tpm2","keyslots":["1"]},
                      "1":{"type":"systemd-fido2","keyslots":["2"]}}}"#;
        assert_eq!(tpm2_tokens(meta), 1);
        assert_eq!(tpm2_tokens(br#"{"tokens":{}}"#), 0);
        assert_eq!(tpm2_tokens(b"not json"), 0);
    }
}
