//! Kernel uevents: parsing the netlink message (pure) and mapping it to the whole disk it
//! concerns.

/// One kernel uevent for a block device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    /// `add`, `change`, `remove`, ...
    pub action: String,
    /// `/devices/virtual/block/loop0/loop0p1`.
    pub devpath: String,
    /// `block`.
    pub subsystem: String,
    /// `loop0p1`.
    pub devname: Option<String>,
    /// `disk` or `partition`.
    pub devtype: Option<String>,
    /// The kernel's event number (`/sys/kernel/uevent_seqnum` counts them).
    pub seqnum: Option<u64>,
}

/// Parses a kernel uevent (`ACTION@DEVPATH\0KEY=VALUE\0...`). udevd's own messages (which
/// start with `libudev\0`) and anything malformed give `None`.
pub fn parse(buf: &[u8]) -> Option<Uevent> {
    if buf.starts_with(b"libudev\0") {
        return None;
    }
    let mut fields = buf.split(|&b| b == 0).filter(|f| !f.is_empty());
    let head = std::str::from_utf8(fields.next()?).ok()?;
    let (_, _) = head.split_once('@')?;
    let mut ev = Uevent {
        action: String::new(),
        devpath: String::new(),
        subsystem: String::new(),
        devname: None,
        devtype: None,
        seqnum: None,
    };
    for f in fields {
        let Ok(f) = std::str::from_utf8(f) else {
            continue;
        };
        let Some((k, v)) = f.split_once('=') else {
            continue;
        };
        match k {
            "ACTION" => ev.action = v.to_string(),
            "DEVPATH" => ev.devpath = v.to_string(),
            "SUBSYSTEM" => ev.subsystem = v.to_string(),
            "DEVNAME" => ev.devname = Some(v.rsplit('/').next().unwrap_or(v).to_string()),
            "DEVTYPE" => ev.devtype = Some(v.to_string()),
            "SEQNUM" => ev.seqnum = v.parse().ok(),
            _ => {}
        }
    }
    (!ev.action.is_empty() && !ev.devpath.is_empty()).then_some(ev)
}

/// The kernel name of the whole disk a block uevent concerns (its own name for a disk, the
/// parent's for a partition); `None` for other subsystems.
pub fn disk_of(ev: &Uevent) -> Option<String> {
    if ev.subsystem != "block" {
        return None;
    }
    let mut parts = ev.devpath.rsplit('/');
    let last = parts.next()?;
    match ev.devtype.as_deref() {
        Some("partition") => parts.next().map(str::to_string),
        _ => Some(ev.devname.clone().unwrap_or_else(|| last.to_string())),
    }
}

/// Whether udevd runs on this host (its control socket exists; in a container, only when the
/// host's `/run/udev` is mounted).
pub fn udevd_runs() -> bool {
    std::path::Path::new("/run/udev/control").exists()
}

/// Whether `ev` announces a "change" of the whole disk named `disk` (what udevd sends when it
/// finds a disk locked after a writer closed it) that the kernel numbered after `after`.
pub fn is_change_of_disk(ev: &Uevent, disk: &str, after: u64) -> bool {
    ev.seqnum.is_some_and(|n| n > after)
        && ev.action == "change"
        && ev.subsystem == "block"
        && ev.devtype.as_deref() == Some("disk")
        && ev.devname.as_deref() == Some(disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(parts: &[&str]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|p| p.bytes().chain(std::iter::once(0)))
            .collect()
    }

    #[test]
    fn partition_event_maps_to_its_disk() {
        let ev = parse(&msg(&[
            "add@/devices/virtual/block/loop3/loop3p12",
            "ACTION=add",
            "DEVPATH=/devices/virtual/block/loop3/loop3p12",
            "SUBSYSTEM=block",
            "DEVNAME=loop3p12",
            "DEVTYPE=partition",
            "SEQNUM=4242",
        ]))
        .unwrap();
        assert_eq!(ev.action, "add");
        assert_eq!(disk_of(&ev).as_deref(), Some("loop3"));
    }

    #[test]
    fn disk_change_and_other_subsystems() {
        let ev = parse(&msg(&[
            "change@/devices/virtual/block/loop0",
            "ACTION=change",
            "DEVPATH=/devices/virtual/block/loop0",
            "SUBSYSTEM=block",
            "DEVNAME=/dev/loop0",
            "DEVTYPE=disk",
        ]))
        .unwrap();
        assert_eq!(disk_of(&ev).as_deref(), Some("loop0"));
        let ev = parse(&msg(&[
            "add@/module/x",
            "ACTION=add",
            "DEVPATH=/module/x",
            "SUBSYSTEM=module",
        ]))
        .unwrap();
        assert_eq!(disk_of(&ev), None);
    }

    #[test]
    fn only_a_change_of_that_whole_disk_is_the_handover_answer() {
        let ev = |action: &str, name: &str, devtype: &str| {
            parse(&msg(&[
                &format!("{action}@/devices/pci0000:00/virtio1/block/{name}"),
                &format!("ACTION={action}"),
                &format!("DEVPATH=/devices/pci0000:00/virtio1/block/{name}"),
                "SUBSYSTEM=block",
                &format!("DEVNAME={name}"),
                &format!("DEVTYPE={devtype}"),
                "SEQNUM=1125",
            ]))
            .unwrap()
        };
        assert_eq!(ev("change", "vdb", "disk").seqnum, Some(1125));
        assert!(is_change_of_disk(&ev("change", "vdb", "disk"), "vdb", 1124));
        // An announcement from before the close answers somebody else's close.
        assert!(!is_change_of_disk(
            &ev("change", "vdb", "disk"),
            "vdb",
            1125
        ));
        assert!(!is_change_of_disk(
            &ev("change", "vdb", "disk"),
            "vdc",
            1124
        ));
        assert!(!is_change_of_disk(
            &ev("change", "vdb1", "partition"),
            "vdb1",
            1124
        ));
        assert!(!is_change_of_disk(&ev("add", "vdb", "disk"), "vdb", 1124));
        assert!(!is_change_of_disk(
            &ev("remove", "vdb", "disk"),
            "vdb",
            1124
        ));
        let mut unnumbered = ev("change", "vdb", "disk");
        unnumbered.seqnum = None;
        assert!(!is_change_of_disk(&unnumbered, "vdb", 0));
    }

    #[test]
    fn garbage_and_udev_messages_are_ignored() {
        assert_eq!(parse(b"libudev\0\xfe\xed"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"\xff\xff\0ACTION=add"), None);
        assert_eq!(parse(&msg(&["noat", "ACTION=add"])), None);
        let mut seed = 7u32;
        for n in 0..300 {
            let b: Vec<u8> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16).to_le_bytes()[0]
                })
                .collect();
            let _ = parse(&b).map(|e| disk_of(&e));
        }
    }
}
