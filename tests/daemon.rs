//! `cephboot daemon` with a real cluster: hot-plugged loop devices carrying a bootstrap label
//! become running OSDs; the API is checked with curl (an independent client). Root only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::TestCluster;
use common::daemon::{Daemon, HotDisk};
use common::prometheus::{free_port, Prometheus};
use common::*;

#[test]
fn hot_plugged_labelled_disks_become_osds_and_the_api_holds_up() {
    if !root_or_skip("daemon hot-plug") {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let mut a = HotDisk::new(dir.path(), "a.img", 2 << 30, Some("TDA_OSD_BOOTSTRAP_BS"));
    let mut b = HotDisk::new(dir.path(), "b.img", 2 << 30, Some("TDA_OSD_BOOTSTRAP_BS"));
    let mut blank = HotDisk::new(dir.path(), "blank.img", 1 << 30, None);
    let c = TestCluster::new();
    // systemd readiness: READY=1 on NOTIFY_SOCKET once the daemon serves.
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The metrics also on a TCP port, scraped by a real Prometheus, and in a textfile.
    let (metrics_port, textfile, config) = metrics_config(dir.path());
    let prometheus = Prometheus::start(&format!("127.0.0.1:{metrics_port}"));
    let mut d = Daemon::start_args(
        &c,
        "TDA",
        &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())],
        &["--config", config.to_str().unwrap()],
    );
    let mut buf = [0u8; 64];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    assert_eq!(d.get("/v1/health").1["status"], "ok");
    let (dev_a, dev_blank) = two_labelled_disks_become_two_osds(&d, &c, &mut a, &mut b, &mut blank);

    metrics_count_the_two_jobs_the_disks_and_the_uevents(&d);

    let mut tiny = HotDisk::new(
        dir.path(),
        "tiny.img",
        64 << 20,
        Some("TDA_OSD_BOOTSTRAP_BS"),
    );
    prometheus_sees_the_jobs_and_a_refusal_by_its_reason(
        prometheus.as_ref(),
        &d,
        &mut tiny,
        &textfile,
    );
    the_metrics_port_serves_metrics_only_and_is_bounded(metrics_port, dir.path());

    a_blank_disk_is_listed_without_a_job_and_its_detach_shows(&d, &mut blank, &dev_blank);

    bad_requests_get_4xx_and_the_daemon_stays_healthy(&d, dir.path());

    a_caller_that_is_not_root_is_refused(&d, &c);

    // The status client.
    let out = Command::new(cephboot_bin())
        .args(["status", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("succeeded") && text.contains(&dev_a),
        "{text}"
    );

    // SIGTERM: exit 0, and the textfile is gone (a stopped daemon's numbers would read as
    // current).
    assert_eq!(d.terminate().code(), Some(0));
    assert!(
        !textfile.exists(),
        "the metrics textfile outlived the daemon"
    );
    drop(c);
    a.detach();
    b.detach();
}

#[test]
fn sigterm_during_a_prepare_exits_zero_and_a_restart_finishes_the_job() {
    if !root_or_skip("daemon sigterm") {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let mut disk = HotDisk::new(dir.path(), "a.img", 2 << 30, Some("TDB_OSD_BOOTSTRAP_BS"));
    let c = TestCluster::new();
    let mut d = Daemon::start(&c, "TDB");
    disk.attach();
    let start = Instant::now();
    while !d.jobs().iter().any(|j| j["state"] == "running") {
        assert!(start.elapsed() < Duration::from_secs(30), "no job started");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.terminate().code(), Some(0));
    // Restart: whatever the job reached, the disk ends as one running OSD.
    let d2 = Daemon::start(&c, "TDB");
    let start = Instant::now();
    loop {
        let osds = c.osds();
        if osds.len() == 1 && osds[0].1 {
            break;
        }
        assert!(osds.len() <= 1, "a second OSD for one disk: {osds:?}");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no OSD up after restart: {osds:?} jobs {:#?}",
            d2.jobs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(c.osds().len(), 1);
    drop(d2);
    drop(c);
    disk.detach();
}

/// Metrics, scraped as Prometheus would: the two jobs, the disks, the uevents that drove
/// them, the scan durations.
fn metrics_count_the_two_jobs_the_disks_and_the_uevents(d: &Daemon) {
    let scraped = Command::new("curl")
        .args(["-si", "--max-time", "10", "--unix-socket"])
        .arg(&d.socket)
        .arg("http://localhost/metrics")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&scraped.stdout).into_owned();
    assert!(
        text.contains("Content-Type: text/plain; version=0.0.4"),
        "{text}"
    );
    let metric = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(metric("cephboot_jobs{state=\"succeeded\"}"), 2.0, "{text}");
    assert_eq!(metric("cephboot_jobs{state=\"failed\"}"), 0.0, "{text}");
    assert!(
        metric("cephboot_disks{state=\"prepared\"}") >= 2.0,
        "{text}"
    );
    assert!(metric("cephboot_disks{state=\"free\"}") >= 1.0, "{text}");
    assert!(metric("cephboot_uevents_total") >= 3.0, "{text}");
    assert!(metric("cephboot_disk_events_total") >= 3.0, "{text}");
    assert!(metric("cephboot_last_scan_duration_seconds{scope=\"all\"}") > 0.0);
    assert!(metric("cephboot_last_scan_duration_seconds{scope=\"disk\"}") > 0.0);
}

/// A daemon config whose `[metrics]` opens a TCP port and a textfile (rewritten every
/// second): (port, textfile, config file).
fn metrics_config(dir: &std::path::Path) -> (u16, std::path::PathBuf, std::path::PathBuf) {
    let port = free_port();
    let textfile = dir.join("cephboot.prom");
    let config = dir.join("daemon.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nlisten = \"127.0.0.1:{port}\"\ntextfile = {:?}\ntextfile_interval_secs = 1\n",
            textfile.display().to_string()
        ),
    )
    .unwrap();
    (port, textfile, config)
}

/// A real Prometheus scrapes the TCP port: the two jobs with their durations, the OSDs they
/// started; then a labelled disk too small for an OSD is plugged and its job's refusal is
/// counted under its reason, in Prometheus and in the node_exporter textfile.
fn prometheus_sees_the_jobs_and_a_refusal_by_its_reason(
    prometheus: Option<&Prometheus>,
    d: &Daemon,
    tiny: &mut HotDisk,
    textfile: &std::path::Path,
) {
    let Some(p) = prometheus else { return };
    p.wait_for("up{job=\"cephboot\"}", 60, |v| v == 1.0);
    p.wait_for("cephboot_jobs{state=\"succeeded\"}", 30, |v| v == 2.0);
    p.wait_for("cephboot_prepare_duration_seconds_count", 30, |v| v == 2.0);
    // Each job's activation, and the daemon's `osd activate --all` at its start.
    p.wait_for("cephboot_activate_duration_seconds_count", 30, |v| v >= 3.0);
    p.wait_for("cephboot_prepare_duration_seconds_sum", 30, |v| v > 1.0);
    p.wait_for("cephboot_osds{state=\"running\"}", 30, |v| v >= 2.0);
    p.wait_for("cephboot_last_scan_disks", 30, |v| v >= 1.0);
    assert_eq!(
        p.value("cephboot_jobs_failed_total{reason=\"refused\"}"),
        Some(0.0)
    );

    let dev = tiny.attach();
    let jobs = d.wait_jobs_done(3, 60);
    let job = jobs.iter().find(|j| j["device"] == dev.as_str()).unwrap();
    assert_eq!(job["state"], "failed", "{job:#}");
    assert_eq!(job["failure_reason"], "refused", "{job:#}");
    assert!(
        job["error"].as_str().unwrap().contains("too small"),
        "{job:#}"
    );
    p.wait_for("cephboot_jobs_failed_total{reason=\"refused\"}", 30, |v| {
        v == 1.0
    });
    p.wait_for("cephboot_jobs{state=\"failed\"}", 30, |v| v == 1.0);
    assert_eq!(
        p.value("cephboot_jobs_failed_total{reason=\"cluster\"}"),
        Some(0.0)
    );
    p.wait_for("cephboot_prepare_duration_seconds_count", 30, |v| v == 3.0);

    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(textfile).unwrap_or_default();
        if text.contains("cephboot_jobs_failed_total{reason=\"refused\"} 1\n") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the textfile does not count the refusal:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    tiny.detach();
}

/// The metrics port answers `GET /metrics` and nothing else; an oversized request is cut with
/// 431; connections past the bound get 503; the port serves again afterwards.
fn the_metrics_port_serves_metrics_only_and_is_bounded(port: u16, dir: &std::path::Path) {
    use std::io::{Read, Write};
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let status = |args: &[&str]| -> u16 {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
            ])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    };
    assert_eq!(status(&[&url("/metrics")]), 200);
    for path in ["/", "/v1/disks", "/v1/jobs", "/v1/health", "/metrics/x"] {
        assert_eq!(status(&[&url(path)]), 404, "{path}");
    }
    assert_eq!(
        status(&[
            "-X",
            "POST",
            "-d",
            "{\"device\":\"/dev/x\"}",
            &url("/v1/osd/prepare")
        ]),
        404
    );
    assert_eq!(status(&["-X", "POST", &url("/metrics")]), 405);
    let big = dir.join("big.json");
    std::fs::write(&big, vec![b'x'; 200 << 10]).unwrap();
    assert_eq!(
        status(&[
            "-X",
            "GET",
            "--data-binary",
            &format!("@{}", big.display()),
            &url("/metrics")
        ]),
        413
    );
    // A head far over the limit: cut with 431, not read to its end.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX-Filler: ");
    let _ = s.write_all(&vec![b'a'; 256 << 10]);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    assert!(
        reply.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // Eight idle connections take every slot (max_connections = 8): the ninth gets 503.
    let idle = eight_idle_connections(port);
    assert_eq!(status(&[&url("/metrics")]), 503);
    drop(idle);
    let start = Instant::now();
    while status(&[&url("/metrics")]) != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the metrics port did not serve again after its idle clients left"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A package upgrade replaces the binary the daemon was started from: a disk hot-plugged
/// afterwards still becomes an OSD (jobs run the daemon's own binary, not the deleted path).
#[test]
fn jobs_still_run_after_the_daemon_binary_is_replaced_on_disk() {
    if !root_or_skip("daemon after upgrade") {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let mut disk = HotDisk::new(dir.path(), "u.img", 2 << 30, Some("TDU_OSD_BOOTSTRAP_BS"));
    let c = TestCluster::new();
    let old = dir.path().join("cephboot-old");
    std::fs::copy(cephboot_bin(), &old).unwrap();
    let d = Daemon::start_from(&c, "TDU", &[], &[], &old);
    std::fs::remove_file(&old).unwrap();
    disk.attach();
    let jobs = d.wait_jobs_done(1, 180);
    assert_eq!(jobs[0]["state"], "succeeded", "{jobs:#?}");
    let osds = c.osds();
    assert!(osds.len() == 1 && osds[0].1, "one OSD, up: {osds:?}");
}

/// The blank disk is listed as free with no job; its detach shows in the listing.
fn a_blank_disk_is_listed_without_a_job_and_its_detach_shows(
    d: &Daemon,
    blank: &mut HotDisk,
    dev_blank: &str,
) {
    // The blank disk is listed, with no job.
    let disks = d.get("/v1/disks").1;
    let entry = disks["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["path"] == dev_blank)
        .cloned()
        .unwrap();
    assert_eq!(entry["state"], "free");
    assert!(!d.jobs().iter().any(|j| j["device"] == dev_blank));
    // Detach is reflected.
    blank.detach();
    let start = Instant::now();
    loop {
        let disks = d.get("/v1/disks").1;
        let gone = disks["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == dev_blank)
            .is_none_or(|x| x["size_bytes"] == 0);
        if gone {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "detach not reflected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Bad requests get 4xx; the daemon stays healthy.
fn bad_requests_get_4xx_and_the_daemon_stays_healthy(d: &Daemon, dir: &std::path::Path) {
    // Bad requests get 4xx; the daemon stays healthy.
    assert_eq!(d.get("/v1/nope").0, 404);
    assert_eq!(d.curl(&["-X", "DELETE", "http://localhost/v1/jobs"]).0, 405);
    assert_eq!(
        d.curl(&[
            "-X",
            "POST",
            "-d",
            "{not json",
            "http://localhost/v1/osd/prepare"
        ])
        .0,
        400
    );
    assert_eq!(
        d.curl(&[
            "-X",
            "POST",
            "-d",
            "{\"device\": \"/dev/nonexistent\"}",
            "http://localhost/v1/osd/prepare"
        ])
        .0,
        404
    );
    let huge = dir.join("huge.json");
    std::fs::write(&huge, vec![b'x'; 1 << 20]).unwrap();
    assert_eq!(
        d.curl(&[
            "-X",
            "POST",
            "--data-binary",
            &format!("@{}", huge.display()),
            "http://localhost/v1/osd/prepare"
        ])
        .0,
        413
    );
    assert_eq!(d.get("/v1/jobs/notanumber").0, 404);
    assert_eq!(d.get("/v1/health").0, 200);
}

/// Not root: refused by the peer-credential check (the socket opened up just for this).
fn a_caller_that_is_not_root_is_refused(d: &Daemon, c: &TestCluster) {
    // Not root: refused by the peer-credential check (the socket opened up just for this).
    sh("chmod", &["0666", d.socket.to_str().unwrap()]);
    sh("chmod", &["0755", c.state.path().to_str().unwrap()]);
    sh(
        "chmod",
        &["0755", c.state.path().join("run").to_str().unwrap()],
    );
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "curl",
            "-sS",
            "-w",
            "\n%{http_code}",
            "--unix-socket",
        ])
        .arg(&d.socket)
        .arg("http://localhost/v1/health")
        .output()
        .unwrap();
    sh("chmod", &["0600", d.socket.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim_end().ends_with("403") && text.contains("root only"),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The daemon with an OSD spec (`spec` in its config): a blank disk the spec selects becomes
/// an OSD when plugged (a job `by_spec`), a blank disk it does not select is left byte for
/// byte; after `osd remove` of that OSD the emptied disk is not made an OSD again (the
/// daemon leaves disks whose OSD the operator removed). The spec's exact size in bytes keeps
/// every other test's disk out of its selection.
#[test]
fn a_spec_in_the_daemon_takes_the_disk_it_selects_and_never_redeploys_a_removed_one() {
    if !root_or_skip("daemon spec") {
        return;
    }
    const SIZE: u64 = (2 << 30) + (21 << 20);
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let mut taken = HotDisk::new(dir.path(), "taken.img", SIZE, None);
    let mut other = HotDisk::new(dir.path(), "other.img", SIZE + (1 << 20), None);
    // A second spec selects this one as data, its block.db on a disk of a size no disk has.
    let mut waiting = HotDisk::new(dir.path(), "waiting.img", SIZE + (2 << 20), None);
    let c = TestCluster::new();
    let spec = dir.path().join("osds.yml");
    std::fs::write(
        &spec,
        format!(
            "service_type: osd\nservice_id: daemon_test\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    size: '{SIZE}'\n\
             ---\nservice_type: osd\nservice_id: daemon_stuck\nplacement:\n  host_pattern: '*'\nspec:\n  data_devices:\n    size: '{}'\n  db_devices:\n    size: '{}'\n",
            SIZE + (2 << 20),
            SIZE + (3 << 20)
        ),
    )
    .unwrap();
    let conf = dir.path().join("daemon.toml");
    std::fs::write(
        &conf,
        format!(
            "auto_prepare = true\nconcurrency = 1\nspec = {:?}\n",
            spec.display().to_string()
        ),
    )
    .unwrap();
    let mut d = Daemon::start_args(&c, "TDS", &[], &["--config", conf.to_str().unwrap()]);
    let other_sum = sh("sha256sum", &[other.file.to_str().unwrap()]);
    let waiting_sum = sh("sha256sum", &[waiting.file.to_str().unwrap()]);
    let dev = taken.attach();
    let other_dev = other.attach();
    let waiting_dev = waiting.attach();
    let jobs = d.wait_jobs_done(1, 240);
    assert_eq!(
        jobs.len(),
        1,
        "one job, for the selected disk only: {jobs:#?}"
    );
    assert_eq!(jobs[0]["device"], dev.as_str(), "{jobs:#?}");
    assert_eq!(jobs[0]["by_spec"], true, "{jobs:#?}");
    assert_eq!(jobs[0]["state"], "succeeded", "{jobs:#?}");
    let id = jobs[0]["osd_id"].as_u64().unwrap().to_string();
    assert!(
        c.osds().iter().any(|(i, up, _)| i.to_string() == id && *up),
        "{:?}",
        c.osds()
    );
    let listed = d.get("/v1/disks").1;
    assert!(listed.to_string().contains(&other_dev), "{listed}");

    // The operator removes the OSD: its disk is zapped (blank again, still selected by the
    // spec), and the daemon leaves it.
    let r = c.cb_ok(&[
        "--label-prefix",
        "TDS",
        "osd",
        "remove",
        &id,
        "--wait",
        "180",
    ]);
    assert_eq!(r["action"], "removed", "{r:#}");
    let record = std::fs::read_to_string(c.state.path().join("removed-disks.json")).unwrap();
    assert!(record.contains(taken.file.to_str().unwrap()), "{record}");
    std::thread::sleep(Duration::from_secs(10));
    let jobs = d.jobs();
    assert_eq!(jobs.len(), 1, "the emptied disk got a job: {jobs:#?}");
    let blkid = Command::new("blkid").args(["-p", &dev]).output().unwrap();
    assert_eq!(
        blkid.status.code(),
        Some(2),
        "the removed OSD's disk is not blank"
    );
    assert_eq!(
        sh("sha256sum", &[other.file.to_str().unwrap()]),
        other_sum,
        "the unselected disk was written"
    );
    let mut db = HotDisk::new(dir.path(), "db.img", SIZE + (3 << 20), None);
    a_waiting_disk_is_named_then_made_an_osd_when_its_db_disk_comes(
        &d,
        &waiting,
        &waiting_dev,
        &waiting_sum,
        &mut db,
    );
    assert_eq!(d.terminate().code(), Some(0));
    drop(c);
    taken.detach();
    other.detach();
    waiting.detach();
    db.detach();
}

/// The disk the spec test's second spec selects (its block.db on a disk of a size no disk has)
/// waits in `spec_waiting`, untouched; once `db` (of that size) is plugged, it gets its OSD at
/// that disk's event and leaves the list.
fn a_waiting_disk_is_named_then_made_an_osd_when_its_db_disk_comes(
    d: &Daemon,
    waiting: &HotDisk,
    waiting_dev: &str,
    waiting_sum: &str,
    db: &mut HotDisk,
) {
    // The disk the second spec selects but cannot make an OSD of is not passed over in
    // silence: the health endpoint names it with the spec's reason.
    let name = waiting_dev.trim_start_matches("/dev/");
    let health = d.get("/v1/health").1;
    let why = health["spec_waiting"][name].as_str().unwrap_or_default();
    assert!(
        why.starts_with("spec daemon_stuck: data: no db device available"),
        "{health:#}"
    );
    assert_eq!(
        sh("sha256sum", &[waiting.file.to_str().unwrap()]),
        waiting_sum,
        "the disk waiting for a db device was written"
    );
    db.attach();
    let jobs = d.wait_jobs_done(2, 240);
    assert!(
        jobs.iter().any(|j| j["device"] == waiting_dev
            && j["by_spec"] == true
            && j["state"] == "succeeded"),
        "{jobs:#?}"
    );
    let health = d.get("/v1/health").1;
    assert_eq!(health["spec_waiting"], serde_json::json!({}), "{health:#}");
}

/// Two labelled disks plugged at once (and a blank one): two OSDs up within 120 s, one job
/// each, seen in the API and in the event stream read for the whole hot-plug. Returns the
/// first disk's and the blank disk's device paths.
fn two_labelled_disks_become_two_osds(
    d: &Daemon,
    c: &TestCluster,
    a: &mut HotDisk,
    b: &mut HotDisk,
    blank: &mut HotDisk,
) -> (String, String) {
    // The event stream, read by curl for the whole hot-plug.
    let events = Command::new("curl")
        .args(["-sN", "--max-time", "60", "--unix-socket"])
        .arg(&d.socket)
        .arg("http://localhost/v1/events")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    // Two labelled disks at once: two OSDs up within 120 s, one job each.
    let started = Instant::now();
    let dev_a = a.attach();
    let dev_b = b.attach();
    let dev_blank = blank.attach();
    let jobs = d.wait_jobs_done(2, 120);
    eprintln!(
        "two hot-plugged disks prepared and up in {:?}",
        started.elapsed()
    );
    assert_eq!(
        jobs.len(),
        2,
        "exactly one job per disk despite the disks' own change events: {jobs:#?}"
    );
    assert!(
        jobs.iter()
            .all(|j| j["state"] == "succeeded" && j["origin"] == "hotplug"),
        "{jobs:#?}"
    );
    let devices: Vec<&str> = jobs.iter().map(|j| j["device"].as_str().unwrap()).collect();
    assert!(devices.contains(&dev_a.as_str()) && devices.contains(&dev_b.as_str()));
    let (code, one) = d.get(&format!("/v1/jobs/{}", jobs[0]["id"]));
    assert_eq!(code, 200);
    assert_eq!(one["id"], jobs[0]["id"]);
    let osds = c.osds();
    assert_eq!(osds.len(), 2);
    assert!(osds.iter().all(|(_, up, _)| *up), "{osds:?}");
    assert_eq!(d.get("/v1/osds").1["osds"].as_array().unwrap().len(), 2);
    let _ = Command::new("kill").arg(events.id().to_string()).output();
    let streamed = String::from_utf8_lossy(&events.wait_with_output().unwrap().stdout).into_owned();
    assert!(
        streamed.contains("\"state\":\"running\"")
            && streamed.contains("\"state\":\"succeeded\"")
            && streamed.contains("\"type\":\"log\""),
        "{streamed}"
    );
    (dev_a, dev_blank)
}

/// Eight connections to the metrics port that each hold a slot, sending nothing. The slot of an
/// earlier request can still be held while they connect (an answered error drains its client
/// for up to 1 s): a connection refused so is answered 503 and closed at once, and is opened
/// again (a CI run under load got its ninth request a slot so). Within 8 s: an idle connection's
/// slot is freed after 10 s (408).
fn eight_idle_connections(port: u16) -> Vec<std::net::TcpStream> {
    use std::io::Read;
    // Silent: no answer within 200 ms (a refused one has its 503 to read, or EOF).
    let silent = |s: &std::net::TcpStream| {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut byte = [0u8; 1];
        matches!((&*s).read(&mut byte), Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
    };
    let start = Instant::now();
    let mut idle: Vec<std::net::TcpStream> = Vec::new();
    loop {
        while idle.len() < 8 {
            idle.push(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
        }
        std::thread::sleep(Duration::from_millis(300));
        idle.retain(|s| silent(s));
        if idle.len() == 8 {
            return idle;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "eight idle connections to the metrics port did not each get a slot within 8 s ({} did)",
            idle.len()
        );
    }
}
