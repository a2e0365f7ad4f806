//! ceph.conf parsing on any text, and the lookups every command makes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let conf = cephboot::ceph::conf::CephConf::parse(Path::new("/etc/ceph/ceph.conf"), &text);
    let _ = (conf.fsid(), conf.global("mon host"), conf.osd_data("ceph", 3));
});
