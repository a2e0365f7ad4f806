//! Device arguments of `osd prepare`: `/dev/sdb`, a `/dev/disk/by-*` link, `sdb`, or
//! `loop:SIZE` — a sparse file under `<state-dir>/loops/` attached as a loop device. The Nth
//! `loop:SIZE` of a command line always maps to the same file (`disk-4G-0.img`,
//! `disk-4G-1.img`, ...), so a rerun finds the same disks instead of making new ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, IoContext, Result};
use crate::exec;

/// A resolved device argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the user typed.
    pub arg: String,
    /// The device node (`/dev/loop3`).
    pub node: PathBuf,
    /// Kernel name (`loop3`).
    pub name: String,
}

/// Parses `4G`, `512M`, `1T`, `1048576` into bytes.
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => {
                    return Err(Error::Usage(format!(
                        "size {s:?}: unit must be K, M, G or T"
                    )))
                }
            };
            (s.get(..i).unwrap_or(""), m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| {
        Error::Usage(format!(
            "size {s:?} is not a number with an optional K/M/G/T unit"
        ))
    })?;
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| Error::Usage(format!("size {s:?} is out of range")))
}

/// The kernel name of a device path (following `/dev/disk/by-*` links).
pub fn kernel_name_of(path: &Path) -> Result<(PathBuf, String)> {
    let p = if path.components().count() == 1 {
        Path::new("/dev").join(path)
    } else {
        path.to_path_buf()
    };
    let real = std::fs::canonicalize(&p).map_err(|e| {
        Error::NotFound(format!(
            "{}: {e}: name an existing block device (see `cephboot disks list`)",
            p.display()
        ))
    })?;
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::NotFound(format!("{} is not a device node", p.display())))?;
    // It must be the block device the kernel knows under that name, not a file or a
    // directory that happens to share it.
    let is_block = std::fs::metadata(&real)
        .map(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()))
        .unwrap_or(false);
    if !is_block || !Path::new("/sys/class/block").join(&name).exists() {
        return Err(Error::NotFound(format!(
            "{} is not a block device",
            p.display()
        )));
    }
    let sys_dev = std::fs::read_to_string(Path::new("/sys/class/block").join(&name).join("dev"))
        .unwrap_or_default();
    let rdev = std::fs::metadata(&real)
        .map(|m| std::os::unix::fs::MetadataExt::rdev(&m))
        .unwrap_or(0);
    let (major, minor) = (
        (rdev >> 8) & 0xfff,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    );
    if sys_dev.trim() != format!("{major}:{minor}") {
        return Err(Error::NotFound(format!(
            "{} is not the kernel's block device {name}",
            p.display()
        )));
    }
    Ok((real, name))
}

fn loop_device_of(file: &Path) -> Result<Option<PathBuf>> {
    let out = exec::run(
        "losetup",
        &["-j", &file.display().to_string(), "-O", "NAME", "-n"],
        None,
        Duration::from_secs(10),
    )?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| PathBuf::from(l.trim()))
        .filter(|p| !p.as_os_str().is_empty()))
}

/// Attaches `file` as a loop device unless it already is; returns the device.
pub fn attach(file: &Path) -> Result<PathBuf> {
    if let Some(dev) = loop_device_of(file)? {
        return Ok(dev);
    }
    let out = exec::run(
        "losetup",
        &["-f", "--show", &file.display().to_string()],
        None,
        Duration::from_secs(10),
    )?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The folder of loop-file disks.
pub fn loops_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("loops")
}

/// Re-attaches every loop-file disk of the state dir that is not attached (after a reboot).
pub fn reattach_all(state_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(loops_dir(state_dir)) else {
        return Ok(out);
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "img"))
        .collect();
    files.sort();
    for f in files {
        out.push(attach(&f)?);
    }
    Ok(out)
}

/// Resolves every argument; `dry_run` does not create or attach loop files.
pub fn resolve(args: &[String], state_dir: &Path, dry_run: bool) -> Result<Vec<Target>> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for arg in args {
        if let Some(size) = arg.strip_prefix("loop:") {
            let bytes = parse_size(size)?;
            let n = seen.entry(size.to_string()).or_insert(0);
            let file = loops_dir(state_dir).join(format!("disk-{size}-{n}.img"));
            *n += 1;
            if dry_run && loop_device_of(&file).ok().flatten().is_none() {
                return Err(Error::Usage(format!("{arg} would create {}: a dry run does not create loop files; run without --dry-run", file.display())));
            }
            if !file.exists() {
                std::fs::create_dir_all(loops_dir(state_dir)).map_err(|e| {
                    Error::io(format!("creating {}", loops_dir(state_dir).display()), e)
                })?;
                let f = std::fs::File::create(&file)
                    .context(|| format!("creating {}", file.display()))?;
                f.set_len(bytes)
                    .context(|| format!("sizing {}", file.display()))?;
            }
            let node = attach(&file)?;
            let (node, name) = kernel_name_of(&node)?;
            out.push(Target {
                arg: arg.clone(),
                node,
                name,
            });
        } else {
            let (node, name) = kernel_name_of(Path::new(arg))?;
            out.push(Target {
                arg: arg.clone(),
                node,
                name,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert!(parse_size("4X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("新").is_err());
    }
}
