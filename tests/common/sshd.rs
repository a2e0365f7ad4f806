//! An OpenSSH server on each simulated host (tests/common/hosts.rs): in the host's network
//! namespace, on its address, under its hostname, admitting root with a key made for the
//! test. What a deployer reaches over SSH is then the simulated host. Stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::hosts::SimHosts;
use super::sh;

pub struct SshServers {
    servers: Vec<Child>,
    /// The client's private key (root on every host).
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl SshServers {
    /// One `sshd` per host of `net`, or `None` (said loudly; a failure under CI) when
    /// openssh-server is not installed.
    pub fn start(net: &SimHosts) -> Option<Self> {
        if !std::path::Path::new("/usr/sbin/sshd").exists() {
            super::required_or_skip("ssh fleet", "the openssh-server package");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let key = d.join("id_ed25519");
        sh(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()],
        );
        std::fs::copy(d.join("id_ed25519.pub"), d.join("authorized_keys")).unwrap();
        let host_key = d.join("host_ed25519");
        sh(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                host_key.to_str().unwrap(),
            ],
        );
        // The privilege-separation directory sshd insists on.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut me = SshServers {
            servers: Vec::new(),
            key,
            _dir: dir,
        };
        for h in &net.hosts {
            let config = d.join(format!("sshd-{}.conf", h.name));
            std::fs::write(
                &config,
                format!(
                    "ListenAddress {ip}:22\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\n\
                     PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPrintMotd no\n\
                     MaxStartups 30\nMaxSessions 30\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
                    ip = h.ip,
                    hk = host_key.display(),
                    pid = d.join(format!("sshd-{}.pid", h.name)).display(),
                    ak = d.join("authorized_keys").display(),
                ),
            )
            .unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", &h.ns, "unshare", "--uts", "sh", "-c"])
                .arg("hostname \"$0\" && exec \"$@\"")
                .arg(&h.name)
                .args(["/usr/sbin/sshd", "-D", "-e", "-f"])
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(d.join(format!("sshd-{}.log", h.name))).unwrap())
                .spawn()
                .unwrap();
            me.servers.push(child);
            let start = Instant::now();
            while !Command::new("ip")
                .args(["netns", "exec", &h.ns, "bash", "-c"])
                .arg(format!("echo > /dev/tcp/{}/22", h.ip))
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "sshd of {} did not listen: {}",
                    h.name,
                    std::fs::read_to_string(d.join(format!("sshd-{}.log", h.name)))
                        .unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Some(me)
    }
}

impl Drop for SshServers {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
