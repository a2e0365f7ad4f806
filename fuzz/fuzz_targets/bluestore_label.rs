//! The BlueStore label parser on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cephboot::disk::bluestore::parse(data);
});
