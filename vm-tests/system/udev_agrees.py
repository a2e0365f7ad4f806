#!/usr/bin/python3
"""Runs in the system guest: does `cephboot disks list` agree with the stock kernel and udevd?

  udev_agrees.py DISK

DISK gets a fresh GPT (sgdisk) with five partitions: an NTFS volume labelled 新加卷 (the
partition named 新加卷 too, as Windows leaves it), ext4 labelled "新加卷 ext4", swap, LUKS2
and a Kolla bootstrap label on an empty partition. After `udevadm settle`, for every
partition, cephboot's JSON must match udev's properties (`udevadm info`) and `lsblk -J -O`
field for field, and /dev/disk/by-partlabel/<udev's encoded name> must lead to the partition
cephboot names. Prints one line per mismatch and exits 1 if there was any.
"""

import json
import os
import re
import subprocess
import sys

LUKS_KEY = b"system-guest-test-key"


def run(*cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def udev_props(dev):
    out = run("udevadm", "info", "--query=property", "--name=" + dev)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def udev_decode(s):
    """udev's \\xNN escapes (ID_PART_ENTRY_NAME, ID_FS_LABEL_ENC), decoded as UTF-8."""
    raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), s.encode())
    return raw.decode("utf-8", errors="replace")


def main():
    disk = sys.argv[1]
    run("wipefs", "-a", disk)
    run("sgdisk", "-Z", disk)
    run("sgdisk",
        "-n1:1M:+200M", "-t1:0700", "-c1:新加卷",
        "-n2:0:+100M", "-t2:8300", "-c2:linux data",
        "-n3:0:+64M", "-t3:8200", "-c3:swap space",
        "-n4:0:+64M", "-t4:8309", "-c4:secret",
        "-n5:0:+64M", "-c5:KOLLA_CEPH_OSD_BOOTSTRAP_BS",
        disk)
    run("udevadm", "settle")
    part = lambda n: "%s%d" % (disk, n)  # virtio: /dev/vdX1
    run("mkntfs", "-Q", "-F", "-L", "新加卷", part(1))
    run("mkfs.ext4", "-q", "-F", "-L", "新加卷 ext4", part(2))
    run("mkswap", "-L", "swap0", part(3))
    run("cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2",
        "--pbkdf-force-iterations", "1000", "--key-file", "-", part(4), stdin=LUKS_KEY)
    # udevd sees each mkfs's close (its watch) and re-reads the partition's signature.
    run("udevadm", "trigger", "--settle", disk)
    run("udevadm", "settle")

    listed = json.loads(run("cephboot", "--format", "json", "disks", "list", disk))
    mine = {d["path"]: d for d in listed["devices"] if d.get("parent") == disk}
    lsblk = {"/dev/" + d["name"]: d for d in json.loads(run("lsblk", "-J", "-O", "-b", disk))["blockdevices"][0]["children"]}
    bad = []

    def same(what, ours, theirs):
        if (ours or None) != (theirs or None):
            bad.append("%s: cephboot %r, %s" % (what, ours, theirs))

    if sorted(mine) != sorted(lsblk):
        bad.append("partitions: cephboot %s, lsblk %s" % (sorted(mine), sorted(lsblk)))
    for path, d in sorted(mine.items()):
        u = udev_props(path)
        l = lsblk.get(path, {})
        name = udev_decode(u.get("ID_PART_ENTRY_NAME", ""))
        same(path + " partition name vs udev", d.get("partition_name"), name)
        same(path + " partition name vs lsblk", d.get("partition_name"), l.get("partlabel"))
        same(path + " partition uuid vs udev", d.get("partition_uuid"), u.get("ID_PART_ENTRY_UUID"))
        same(path + " partition uuid vs lsblk", d.get("partition_uuid"), l.get("partuuid"))
        same(path + " type guid vs udev", d.get("type_guid"), u.get("ID_PART_ENTRY_TYPE"))
        same(path + " type guid vs lsblk", d.get("type_guid"), l.get("parttype"))
        same(path + " number vs udev", str(d.get("partition_number")), u.get("ID_PART_ENTRY_NUMBER"))
        same(path + " fs type vs udev", d.get("fs_type"), u.get("ID_FS_TYPE"))
        same(path + " fs type vs lsblk", d.get("fs_type"), l.get("fstype"))
        same(path + " fs label vs udev", d.get("fs_label"), udev_decode(u.get("ID_FS_LABEL_ENC", "")))
        same(path + " fs label vs lsblk", d.get("fs_label"), l.get("label"))
        same(path + " size vs lsblk", d.get("size_bytes"), l.get("size"))
        link = "/dev/disk/by-partlabel/" + u.get("ID_PART_ENTRY_NAME", "?")
        same(path + " by-partlabel link", path, os.path.realpath(link) if os.path.exists(link) else None)
    kinds = sorted(filter(None, (d.get("fs_type") for d in mine.values())))
    same("every kind was seen", kinds, sorted(["crypto_LUKS", "ext4", "ntfs", "swap"]))
    for line in bad:
        print("MISMATCH " + line)
    print("%d partitions compared, %d mismatches" % (len(mine), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
