//! clouds.yaml on any text: the settings of a named cloud, or an explanation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cephboot::openstack::config::settings_from_text(text, "mycloud", "clouds.yaml");
    }
});
