//! OSDs: resolving device arguments (`target`), planning (`plan`, pure), preparing one
//! (`prepare`) and many (`batch`, the loop with its typed report), activating (`activate`,
//! with `aio`: the kernel's AIO budget the OSDs draw on, and `boot_read`: the host read the
//! units started together at boot share),
//! removing (`remove`, with `removed`: the disks whose OSD the operator removed), retiring the
//! units of OSDs whose disks were zapped (`retire`), and finding the OSDs other tools made
//! (`raw`: ceph-volume raw; `lvm`: ceph-volume lvm, `lvm_teardown` taking one's volumes
//! apart; `kolla`: the key of Kolla's own BlueStore layout; `ceph_disk`: ceph-disk's data
//! partitions, read through `xfs_dir`) and moving their start to cephboot's units (`adopt`).

pub mod activate;
pub mod adopt;
pub mod aio;
pub mod batch;
pub mod boot_read;
pub mod ceph_disk;
pub mod convert;
pub mod drain;
pub mod host_down;
pub mod keys;
pub mod kolla;
pub mod lvm;
pub mod lvm_teardown;
pub mod plan;
pub mod prepare;
pub mod raw;
pub mod remove;
pub mod removed;
pub mod retire;
pub mod slots;
pub mod target;
pub mod xfs_dir;
