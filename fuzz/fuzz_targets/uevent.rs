//! The kernel uevent parser on any datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(ev) = cephboot::disk::uevent::parse(data) {
        let _ = cephboot::disk::uevent::is_change_of_disk(&ev, "loop0", 0);
    }
});
