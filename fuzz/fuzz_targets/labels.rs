//! Partition names (UTF-16 from a GPT entry, any units), filesystem labels (any bytes) and the
//! label grammar; a name that encodes must parse the same way it was written.
#![no_main]

use cephboot::disk::label::{FsLabel, LabelGrammar, PartitionName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = PartitionName::from_utf16le(data);
    let lossy = name.to_lossy();
    let _ = (name.to_exact(), name.to_hex());
    let g = LabelGrammar::default();
    let _ = (g.parse(&lossy), g.is_near_miss(&lossy));
    let fs = FsLabel::from_bytes(data);
    let _ = (fs.to_display(), fs.to_hex(), fs.to_exact());
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(encoded) = PartitionName::encode(text) {
            assert_eq!(encoded.to_exact().as_deref(), Some(text), "encode/decode round trip");
        }
        let _ = g.parse(text);
        let _ = LabelGrammar::new(text);
    }
});
