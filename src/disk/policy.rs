//! Which devices cephboot may touch at all: allow/deny patterns (`*` and `?` wildcards) on
//! kernel names or `/dev` paths. The daemon's `allow`/`deny` configuration becomes one of these
//! and travels with every job to the engine, which applies it to every device a plan touches —
//! the disk that appeared, and each partner and partner disk found by label — not only to the
//! device that was named.

use serde::Serialize;

/// Allow/deny patterns. Empty `allow` allows everything not denied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DevicePolicy {
    /// A device must match one of these (when any are given).
    pub allow: Vec<String>,
    /// A device matching one of these is never touched.
    pub deny: Vec<String>,
}

impl DevicePolicy {
    /// Whether nothing is restricted.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Whether the device with kernel name `name` (`/dev/name`) may be touched.
    pub fn allows_name(&self, name: &str) -> bool {
        let path = format!("/dev/{name}");
        let hit = |p: &String| glob(p, name) || glob(p, &path);
        (self.allow.is_empty() || self.allow.iter().any(hit)) && !self.deny.iter().any(hit)
    }

    /// Whether a device may be touched. A partition is allowed when its disk or the partition
    /// itself matches `allow` (a pattern naming a disk covers its partitions; one naming a
    /// partition allows just that one on a shared disk), and neither it nor its disk is denied.
    pub fn allows(&self, name: &str, disk_name: Option<&str>) -> bool {
        let Some(disk) = disk_name else {
            return self.allows_name(name);
        };
        let hit = |patterns: &[String], n: &str| {
            let path = format!("/dev/{n}");
            patterns.iter().any(|p| glob(p, n) || glob(p, &path))
        };
        let allowed = self.allow.is_empty() || hit(&self.allow, disk) || hit(&self.allow, name);
        allowed && !hit(&self.deny, disk) && !hit(&self.deny, name)
    }
}

/// `*`, `?` and `[...]` wildcards (a class: `[cd]`, `[0-9]`, `[!a]`; a `[` without its `]`
/// is a plain character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if p.get(pi) == Some(&'*') {
            star = Some(pi);
            mark = ti;
            pi += 1;
            continue;
        }
        match (one_char(&p, pi), t.get(ti)) {
            (Some((len, matches)), Some(c)) if matches(*c) => {
                pi += len;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_none_or(|rest| rest.iter().all(|c| *c == '*'))
}

/// The single-character matcher at `p[i]`: its length in the pattern and its test.
/// A test of one character of the text.
type CharTest<'a> = Box<dyn Fn(char) -> bool + 'a>;

fn one_char(p: &[char], i: usize) -> Option<(usize, CharTest<'_>)> {
    let c = *p.get(i)?;
    match c {
        '?' => Some((1, Box::new(|_| true))),
        '[' => {
            let body_start = i + 1;
            let negate = matches!(p.get(body_start), Some('!' | '^'));
            let first = if negate { body_start + 1 } else { body_start };
            // The class ends at the first `]` after its first character.
            let end = (first + 1..p.len()).find(|&k| p.get(k) == Some(&']'));
            match end {
                None => Some((1, Box::new(move |x| x == '['))),
                Some(end) => {
                    let body = p.get(first..end).unwrap_or(&[]);
                    Some((
                        end + 1 - i,
                        Box::new(move |x| {
                            let mut hit = false;
                            let mut k = 0;
                            while k < body.len() {
                                let lo = body.get(k).copied().unwrap_or_default();
                                if body.get(k + 1) == Some(&'-') && k + 2 < body.len() {
                                    let hi = body.get(k + 2).copied().unwrap_or_default();
                                    hit |= lo <= x && x <= hi;
                                    k += 3;
                                } else {
                                    hit |= lo == x;
                                    k += 1;
                                }
                            }
                            hit != negate
                        }),
                    ))
                }
            }
        }
        c => Some((1, Box::new(move |x| x == c))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_their_disk() {
        let p = DevicePolicy {
            allow: vec!["sd*".into(), "/dev/loop?".into()],
            deny: vec!["sdc".into(), "sdb9".into()],
        };
        assert!(p.allows("sdb", None) && p.allows("loop3", None));
        assert!(!p.allows("sdc", None), "denied disk");
        assert!(
            !p.allows("sdc1", Some("sdc")),
            "a partition of a denied disk"
        );
        assert!(
            !p.allows("sdb9", Some("sdb")),
            "a denied partition of an allowed disk"
        );
        assert!(p.allows("sdb1", Some("sdb")));
        assert!(
            !p.allows("nvme0n1p1", Some("nvme0n1")),
            "not allowed at all"
        );
        assert!(DevicePolicy::default().allows("anything", Some("any")));
        // One partition of a shared disk allowed on its own (a db partition on an NVMe).
        let p = DevicePolicy {
            allow: vec!["sdb".into(), "/dev/nvme0n1p3".into()],
            deny: vec![],
        };
        assert!(p.allows("nvme0n1p3", Some("nvme0n1")));
        assert!(!p.allows("nvme0n1p2", Some("nvme0n1")));
        assert!(!p.allows("nvme0n1", None), "the disk itself is not allowed");
        assert!(DevicePolicy::default().is_open());
        assert!(glob("*p1?", "loop0p12") && !glob("a*b", "ac"));
        assert!(glob("sd[cd]", "sdc") && glob("sd[cd]", "sdd") && !glob("sd[cd]", "sde"));
        assert!(
            glob("/dev/sd[a-c]*", "/dev/sdb1") && !glob("sd[!a]", "sda") && glob("sd[!a]", "sdb")
        );
        assert!(glob("a[b", "a[b") && glob("x[]]", "x]") && !glob("sd[cd]", "sd"));
    }
}
