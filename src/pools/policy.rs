//! The pool sizing policy: a pure function of the cluster's shape and the request.
//!
//! | shape | size | min_size | failure domain |
//! |---|---|---|---|
//! | one host, one OSD | 1 | 1 | osd (needs `mon_allow_pool_size_one`) |
//! | one host, k ≥ 2 OSDs | min(3, k) | size − size/2 | osd |
//! | two hosts | 2 | 1 | host |
//! | three hosts or more | 3 | 2 | host |
//!
//! `--replicas N` wins when the cluster can hold N copies: across hosts when there are at
//! least N hosts, else across OSDs when there are at least N OSDs; otherwise it is refused.

use serde::Serialize;

/// The cluster's shape: OSD count per host (hosts without OSDs are left out).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Shape {
    /// OSDs under each host bucket.
    pub osds_per_host: Vec<usize>,
}

impl Shape {
    /// Hosts with at least one OSD.
    pub fn hosts(&self) -> usize {
        self.osds_per_host.iter().filter(|&&n| n > 0).count()
    }
    /// All OSDs.
    pub fn osds(&self) -> usize {
        self.osds_per_host.iter().sum()
    }
}

/// CRUSH failure domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureDomain {
    /// Copies on different OSDs (may share a host).
    Osd,
    /// Copies on different hosts.
    Host,
}

impl FailureDomain {
    /// The CRUSH bucket type name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureDomain::Osd => "osd",
            FailureDomain::Host => "host",
        }
    }
    /// The replicated rule cephboot creates for this domain.
    pub fn rule_name(self) -> &'static str {
        match self {
            FailureDomain::Osd => "replicated_osd",
            FailureDomain::Host => "replicated_host",
        }
    }
}

/// What the policy decided, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Replicas.
    pub size: u32,
    /// Replicas needed to accept writes.
    pub min_size: u32,
    /// Failure domain.
    pub failure_domain: FailureDomain,
    /// For people.
    pub reason: String,
}

fn min_size_for(size: u32) -> u32 {
    (size - size / 2).max(1)
}

/// Decides the sizing. `single_node` asserts that the cluster is one host.
pub fn decide(shape: &Shape, replicas: Option<u32>, single_node: bool) -> Result<Decision, String> {
    let hosts = shape.hosts();
    let osds = shape.osds();
    if osds == 0 {
        return Err("the cluster has no OSD yet: prepare and activate at least one (`cephboot osd prepare`, `cephboot osd activate --all`) before sizing pools".into());
    }
    if single_node && hosts > 1 {
        return Err(format!("--single-node was given but OSDs are on {hosts} hosts: drop --single-node to size for them all"));
    }
    let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    if let Some(n) = replicas {
        if n == 0 || n > 10 {
            return Err(format!("--replicas {n}: choose 1 to 10"));
        }
        let (domain, why) = if to_u32(hosts) >= n && !single_node {
            (
                FailureDomain::Host,
                format!("{n} replicas requested; {hosts} hosts can hold one each"),
            )
        } else if to_u32(osds) >= n {
            (FailureDomain::Osd, format!("{n} replicas requested; {hosts} host(s) cannot hold one each, so copies go to different OSDs ({osds} OSDs)"))
        } else {
            return Err(format!("--replicas {n}: the cluster has {osds} OSD(s) on {hosts} host(s) and can hold at most {osds} replica(s)"));
        };
        return Ok(Decision {
            size: n,
            min_size: min_size_for(n),
            failure_domain: domain,
            reason: why,
        });
    }
    Ok(match (hosts, osds) {
        (1, 1) => Decision {
            size: 1,
            min_size: 1,
            failure_domain: FailureDomain::Osd,
            reason:
                "one host with one OSD: a single copy (no redundancy; data is lost with that disk)"
                    .into(),
        },
        (1, k) => {
            let size = to_u32(k.min(3));
            Decision {
                size,
                min_size: min_size_for(size),
                failure_domain: FailureDomain::Osd,
                reason: format!(
                    "one host with {k} OSDs: {size} copies on different OSDs of that host"
                ),
            }
        }
        (2, _) => Decision {
            size: 2,
            min_size: 1,
            failure_domain: FailureDomain::Host,
            reason: "two hosts: one copy on each host".into(),
        },
        (h, _) => Decision {
            size: 3,
            min_size: 2,
            failure_domain: FailureDomain::Host,
            reason: format!("{h} hosts: three copies on different hosts"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(v: &[usize]) -> Shape {
        Shape {
            osds_per_host: v.to_vec(),
        }
    }

    #[test]
    fn one_disk_host_gets_size_one() {
        let d = decide(&shape(&[1]), None, true).unwrap();
        assert_eq!(
            (d.size, d.min_size, d.failure_domain),
            (1, 1, FailureDomain::Osd)
        );
    }

    #[test]
    fn one_host_several_osds_replicates_across_osds() {
        let d = decide(&shape(&[2]), None, true).unwrap();
        assert_eq!(
            (d.size, d.min_size, d.failure_domain),
            (2, 1, FailureDomain::Osd)
        );
        let d = decide(&shape(&[5]), None, false).unwrap();
        assert_eq!(
            (d.size, d.min_size, d.failure_domain),
            (3, 2, FailureDomain::Osd)
        );
    }

    #[test]
    fn hosts_decide_once_there_are_several() {
        let d = decide(&shape(&[1, 4]), None, false).unwrap();
        assert_eq!(
            (d.size, d.min_size, d.failure_domain),
            (2, 1, FailureDomain::Host)
        );
        let d = decide(&shape(&[1, 1, 1, 0]), None, false).unwrap();
        assert_eq!(
            (d.size, d.min_size, d.failure_domain),
            (3, 2, FailureDomain::Host)
        );
    }

    #[test]
    fn explicit_replicas_win_when_they_fit() {
        let d = decide(&shape(&[3]), Some(2), true).unwrap();
        assert_eq!((d.size, d.failure_domain), (2, FailureDomain::Osd));
        let d = decide(&shape(&[2, 2]), Some(2), false).unwrap();
        assert_eq!(d.failure_domain, FailureDomain::Host);
        let d = decide(&shape(&[2, 2]), Some(3), false).unwrap();
        assert_eq!(d.failure_domain, FailureDomain::Osd);
        let e = decide(&shape(&[1]), Some(3), true).unwrap_err();
        assert!(e.contains("at most 1"), "{e}");
        assert!(decide(&shape(&[1]), Some(0), true).is_err());
    }

    #[test]
    fn refusals_explain_themselves() {
        assert!(decide(&shape(&[]), None, true)
            .unwrap_err()
            .contains("no OSD"));
        assert!(decide(&shape(&[1, 1]), None, true)
            .unwrap_err()
            .contains("2 hosts"));
    }
}
