//! The GPT and MBR readers on any bytes, and the differential check: whatever table the reader
//! accepts, the in-place editor handles without panicking, and an edit it makes reads back.
#![no_main]

use std::io::Cursor;

use cephboot::disk::gpt::{read_gpt, read_mbr, GptRead};
use cephboot::disk::table::edit_entry;
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the sector size; the rest is the disk image.
    let Some((&pick, image)) = data.split_first() else { return };
    let ss = if pick & 1 == 0 { 512 } else { 4096 };
    let size = image.len() as u64;
    let mut disk = Cursor::new(image.to_vec());
    let _ = read_mbr(&mut disk);
    let GptRead::Found(table) = read_gpt(&mut disk, ss, size) else { return };
    let Some(first) = table.entries.first() else { return };
    let number = first.number;
    let edited = edit_entry(&mut disk, ss, size, number, "KOLLA_CEPH_DATA_BS_7_D", Uuid::from_u128(7), |_| Ok(()));
    if edited.is_ok() {
        match read_gpt(&mut disk, ss, size) {
            GptRead::Found(t) => {
                let e = t.entries.iter().find(|e| e.number == number);
                assert!(e.is_some_and(|e| e.name.to_lossy() == "KOLLA_CEPH_DATA_BS_7_D"), "edit lost");
            }
            other => panic!("an edited table no longer reads: {other:?}"),
        }
    }
});
