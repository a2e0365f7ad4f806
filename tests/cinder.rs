//! `cinder type ensure | list` and `pools init --volume-type` against a real Cinder API
//! (noauth, and behind a real Keystone) on 127.0.0.1; results checked with the `openstack`
//! CLI and curl. Root only (the services are installed by `make test`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Output};

use common::cluster::TestCluster;
use common::openstack::OpenStack;
use common::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(cephboot_bin());
    c.args(args);
    // Only what the test gives: no OS_* from the environment of the test run.
    for (k, _) in std::env::vars() {
        if k.starts_with("OS_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `cinder type ensure` of the `ceph` type on backend `rbd-1`, made the project default.
const ENSURE_CEPH_DEFAULT: &[&str] = &[
    "cinder",
    "type",
    "ensure",
    "ceph",
    "--backend",
    "rbd-1",
    "--default",
    "--format",
    "json",
];

/// Keystone refused the credentials: exit 8, explained, and `secret` appears nowhere.
fn assert_rejected_without_leak(out: &Output, secret: &str) {
    assert_eq!(out.status.code(), Some(8));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("rejected the credentials"), "{all}");
    assert!(!all.contains(secret), "the secret leaked: {all}");
}

/// Type `name` in a `cinder type list` JSON.
fn listed<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    v["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
}

#[test]
fn standalone_cinder_in_noauth_mode_and_one_deployer_step_for_pools_and_types() {
    if !root_or_skip("cinder noauth") {
        return;
    }
    let os = OpenStack::noauth();
    let ep = os.endpoint();
    let noauth = [
        "--os-auth-type",
        "none",
        "--os-endpoint",
        ep.as_str(),
        "--format",
        "json",
    ];
    let ensure = |extra: &[&str]| {
        let mut a = vec!["cinder", "type", "ensure", "ceph"];
        a.extend(extra);
        a.extend(noauth);
        run(&a, &[])
    };
    let v = json(&ensure(&[
        "--backend",
        "rbd-1",
        "--property",
        "rbd:exclusive_cow=True",
    ]));
    assert_eq!(v["action"], "created");
    let v = json(&ensure(&["--backend", "rbd-1"]));
    assert_eq!(v["action"], "unchanged");
    assert_eq!(v["changed"], false);
    // A type with different specs is left alone unless --update.
    let out = ensure(&["--backend", "rbd-2"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("volume_backend_name is \"rbd-1\", wanted \"rbd-2\""));
    let v = json(&ensure(&["--backend", "rbd-2", "--update"]));
    assert_eq!(v["action"], "updated");
    // Checked with curl: the spec really changed, the extra property was kept.
    let list = sh(
        "curl",
        &[
            "-sf",
            "-H",
            "X-Auth-Token: admin:admin",
            &format!("{ep}/admin/types"),
        ],
    );
    let types: serde_json::Value = serde_json::from_str(&list).unwrap();
    let ceph = types["volume_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ceph")
        .unwrap();
    assert_eq!(ceph["extra_specs"]["volume_backend_name"], "rbd-2");
    assert_eq!(ceph["extra_specs"]["rbd:exclusive_cow"], "True");
    // --default needs Keystone: explained, exit 8.
    let out = ensure(&["--backend", "rbd-2", "--default"]);
    assert_eq!(out.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&out.stderr).contains("default_volume_type"));

    // One deployer step: pools and the volume type.
    let disk = LoopDisk::new(3 << 30);
    let c = TestCluster::new();
    c.cb_ok(&["osd", "prepare", disk.path()]);
    c.cb_ok(&["osd", "activate", "--all"]);
    let dir = c.dir();
    let deployer_step = || {
        json(&run(
            &[
                "--state-dir",
                &dir,
                "pools",
                "init",
                "--single-node",
                "--volume-type",
                "rbd=rbd-1",
                "--os-auth-type",
                "none",
                "--os-endpoint",
                &ep,
                "--format",
                "json",
            ],
            &[],
        ))
    };
    let v = deployer_step();
    assert_eq!(v["volume_types"][0]["action"], "created", "{v:#}");
    assert_eq!(v["decision"]["size"], 1);
    let again = deployer_step();
    assert_eq!(again["changed"], false, "{again:#}");
    assert_eq!(again["volume_types"][0]["action"], "unchanged");

    // Cinder down: a one-line error, exit 8.
    os.stop_cinder();
    let out = run(
        &[
            "cinder",
            "type",
            "list",
            "--os-auth-type",
            "none",
            "--os-endpoint",
            &ep,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(8));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn through_keystone_with_clouds_yaml_os_variables_regions_and_errors() {
    if !root_or_skip("cinder keystone") {
        return;
    }
    let os = OpenStack::keystone(true);
    let clouds = os.clouds_yaml().display().to_string();
    let cloud = [
        ("OS_CLIENT_CONFIG_FILE", clouds.as_str()),
        ("OS_CLOUD", "admin"),
    ];

    let v = json(&run(ENSURE_CEPH_DEFAULT, &cloud));
    assert_eq!(v["action"], "created");
    assert_eq!(v["default"], "set");
    let id = v["id"].as_str().unwrap().to_string();
    // The openstack CLI sees the type and its extra spec.
    let out = Command::new("openstack")
        .args(["volume", "type", "show", "ceph", "-f", "json"])
        .env("OS_CLIENT_CONFIG_FILE", &clouds)
        .env("OS_CLOUD", "admin")
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["properties"]["volume_backend_name"], "rbd-1");
    // The project default, read with a token from the openstack CLI and curl.
    let token_out = Command::new("openstack")
        .args(["token", "issue", "-f", "json"])
        .env("OS_CLIENT_CONFIG_FILE", &clouds)
        .env("OS_CLOUD", "admin")
        .output()
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&token_out.stdout).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/v3/default-types/{}",
        os.cinder_port,
        token["project_id"].as_str().unwrap()
    );
    let def = sh(
        "curl",
        &[
            "-sf",
            "-H",
            &format!("X-Auth-Token: {}", token["id"].as_str().unwrap()),
            "-H",
            "OpenStack-API-Version: volume 3.62",
            &url,
        ],
    );
    assert!(def.contains(&id), "{def}");
    // Rerun: unchanged, default unchanged.
    let v = json(&run(ENSURE_CEPH_DEFAULT, &cloud));
    assert_eq!(
        (
            v["action"].as_str(),
            v["default"].as_str(),
            v["changed"].as_bool()
        ),
        (Some("unchanged"), Some("unchanged"), Some(false))
    );

    // An application credential, by id and by name (clouds.yaml), instead of a password.
    let cloud_env = |name| {
        [
            ("OS_CLIENT_CONFIG_FILE", clouds.as_str()),
            ("OS_CLOUD", name),
        ]
    };
    let appcred_cloud = cloud_env("admin-appcred");
    for cloud_name in ["admin-appcred", "admin-appcred-by-name"] {
        let env = cloud_env(cloud_name);
        let v = json(&run(&["cinder", "type", "list", "--format", "json"], &env));
        assert!(
            listed(&v, "ceph").is_some_and(|t| t["is_default"] == true),
            "{cloud_name}: {v:#}"
        );
    }
    let v = json(&run(
        &[
            "cinder",
            "type",
            "ensure",
            "ceph-appcred",
            "--backend",
            "rbd-2",
            "--format",
            "json",
        ],
        &appcred_cloud,
    ));
    assert_eq!(v["action"], "created", "{v:#}");
    // The project default through an application credential: confirming it works; changing it
    // cannot (this Cinder asks Keystone about the project with the caller's token, which
    // Keystone refuses for application credentials), so it is refused before anything changes.
    let v = json(&run(ENSURE_CEPH_DEFAULT, &appcred_cloud));
    assert_eq!(
        (v["action"].as_str(), v["default"].as_str()),
        (Some("unchanged"), Some("unchanged"))
    );
    let out = run(
        &[
            "cinder",
            "type",
            "ensure",
            "never-made",
            "--backend",
            "x",
            "--default",
        ],
        &appcred_cloud,
    );
    assert_eq!(out.status.code(), Some(8));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("application credential") && err.contains("Nothing was changed"),
        "{err}"
    );
    let v = json(&run(
        &["cinder", "type", "list", "--format", "json"],
        &appcred_cloud,
    ));
    assert!(listed(&v, "never-made").is_none(), "{v:#}");

    // OS_* variables, explicit region.
    let auth_url = os.auth_url();
    let vars = |password: &'static str, user: &'static str, project: &'static str| {
        vec![
            ("OS_AUTH_URL", auth_url.clone()),
            ("OS_USERNAME", user.to_string()),
            ("OS_PASSWORD", password.to_string()),
            ("OS_PROJECT_NAME", project.to_string()),
            ("OS_USER_DOMAIN_NAME", "Default".to_string()),
            ("OS_PROJECT_DOMAIN_NAME", "Default".to_string()),
        ]
    };
    let with = |v: &[(&'static str, String)],
                extra: &[(&'static str, &'static str)]|
     -> Vec<(&'static str, String)> {
        let mut all = v.to_vec();
        all.extend(extra.iter().map(|(k, x)| (*k, x.to_string())));
        all
    };
    let env_ref = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    let go = |args: &[&str], env: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(args, &pairs)
    };
    let admin = vars("secret", "admin", "admin");
    let v = json(&go(
        &["cinder", "type", "list", "--format", "json"],
        with(&admin, &[("OS_REGION_NAME", "RegionOne")]),
    ));
    assert!(
        listed(&v, "ceph").is_some_and(|t| t["is_default"] == true),
        "{v:#}"
    );
    // Two regions in the catalog and none chosen: the ambiguity is explained.
    let out = go(&["cinder", "type", "list"], env_ref(&admin));
    assert_eq!(out.status.code(), Some(8));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("RegionOne, RegionTwo") && err.contains("OS_REGION_NAME"),
        "{err}"
    );

    // Wrong password: explained, exit 8, and the secret appears nowhere.
    let bad = vars("wr0ng-pa55word", "admin", "admin");
    let out = go(
        &["cinder", "type", "list", "-vvv", "--format", "json"],
        with(&bad, &[("OS_REGION_NAME", "RegionOne")]),
    );
    assert_rejected_without_leak(&out, "wr0ng-pa55word");

    // The same with an application credential (OS_* variables, as the openstack CLI takes
    // them): the right secret works, a wrong one is explained and never printed.
    let appcred: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&clouds).unwrap()).unwrap();
    let appcred_id = appcred["clouds"]["admin-appcred"]["auth"]["application_credential_id"]
        .as_str()
        .unwrap()
        .to_string();
    let appcred_secret = appcred["clouds"]["admin-appcred"]["auth"]
        ["application_credential_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let appcred_vars = |secret: &str| {
        vec![
            ("OS_AUTH_URL", auth_url.clone()),
            ("OS_AUTH_TYPE", "v3applicationcredential".to_string()),
            ("OS_APPLICATION_CREDENTIAL_ID", appcred_id.clone()),
            ("OS_APPLICATION_CREDENTIAL_SECRET", secret.to_string()),
            ("OS_REGION_NAME", "RegionOne".to_string()),
        ]
    };
    let out = go(
        &["cinder", "type", "list", "--format", "json"],
        appcred_vars(&appcred_secret),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listed(&json(&out), "ceph-appcred").is_some());
    let out = go(
        &["cinder", "type", "list", "-vvv", "--format", "json"],
        appcred_vars("n0t-the-s3cret"),
    );
    assert_rejected_without_leak(&out, "n0t-the-s3cret");

    // A non-admin user cannot create types: explained, exit 8.
    let demo = vars("demopass", "demo", "demo");
    let out = go(
        &["cinder", "type", "ensure", "other", "--backend", "x"],
        with(&demo, &[("OS_REGION_NAME", "RegionOne")]),
    );
    assert_eq!(out.status.code(), Some(8));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin role"), "{err}");
    assert!(!err.contains("demopass"));
}

#[test]
fn tls_failures_are_explained_and_the_ca_bundle_or_insecure_get_through() {
    if !root_or_skip("tls") {
        return;
    }
    // A self-signed HTTPS server on 127.0.0.1 that answers 401 to everything.
    let dir = tempfile::tempdir().unwrap();
    // A private CA and a server certificate it signs.
    let p = |n: &str| dir.path().join(n).display().to_string();
    let (ca, ca_key, cert, key, csr, ext) = (
        p("ca.pem"),
        p("ca.key"),
        p("cert.pem"),
        p("key.pem"),
        p("req.csr"),
        p("ext.cnf"),
    );
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test CA",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
        ],
    );
    sh(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    );
    let port = common::openstack::free_port();
    let script = format!(
        "import http.server, ssl\n\
         class H(http.server.BaseHTTPRequestHandler):\n    \
           def do_POST(self):\n        self.send_response(401); self.send_header('Content-Length','0'); self.end_headers()\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain('{}', '{}')\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         s.serve_forever()\n",
        cert, key
    );
    let mut server = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed().as_secs() < 10,
            "test TLS server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("https://127.0.0.1:{port}/v3");
    let env = [
        ("OS_AUTH_URL", url.as_str()),
        ("OS_USERNAME", "admin"),
        ("OS_PASSWORD", "secret"),
        ("OS_PROJECT_NAME", "admin"),
    ];
    let untrusted = run(&["cinder", "type", "list"], &env);
    let with_ca = run(&["cinder", "type", "list", "--os-cacert", &ca], &env);
    let insecure = run(&["cinder", "type", "list", "--insecure"], &env);
    server.kill().unwrap();
    server.wait().unwrap();
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(untrusted.status.code(), Some(8));
    assert!(
        err(&untrusted).contains("TLS failure") && err(&untrusted).contains("OS_CACERT"),
        "{}",
        err(&untrusted)
    );
    // Trusted (by the CA bundle, or by skipping verification): the TLS step passes and
    // Keystone's 401 is what is reported.
    for o in [&with_ca, &insecure] {
        assert_eq!(o.status.code(), Some(8));
        assert!(err(o).contains("rejected the credentials"), "{}", err(o));
    }
}
