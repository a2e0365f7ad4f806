# The vm-tests cases, run by the guest's /init with udevd running on a stock Debian kernel.
# Disks (virtio, sparse files made by vm-tests/run): vda 256M, vdb 2G, vdc 1G, vdd 2G.
#
# Output protocol (read by vm-tests/run):
#   VMTEST PLAN <case>...          the cases, in order
#   VMTEST CASE <case> PASS|FAIL   one per case
#   VMTEST CHECK-FAILED <case>: <what>, followed by "VMTEST EVIDENCE <case> | " lines
#   VMTEST NOTE <case>: <text>     facts worth reading that are not checks
# Independent tools (partx, blkid, wipefs, udevadm and udev's links, the kernel's sysfs and
# uevents) are the oracles; cephboot's own output is never compared with itself. sgdisk,
# mkntfs and mkfs write the starting states and play the peer.

CASES="list_matches_udev rewrite_under_udev blkrrpart_busy_blkpg_syncs zap_leaves_nothing prepare_dry_run"
# The guest runs under TCG beside the test queues (make test gives it nice 10): a read a real
# disk answers in milliseconds can wait seconds for a vCPU (a clean-clone run saw zap refuse
# both disks as "did not answer reads within 10 s"). What these cases check is the table
# path, not the deadline for a stalled disk (docs/consent.md), so it is raised here.
export CEPHBOOT_READ_DEADLINE_SECS=120
CASE=""
CASE_FAILED=0

case_begin() { CASE=$1; CASE_FAILED=0; echo "VMTEST BEGIN $1"; }
case_end() {
  if [ "$CASE_FAILED" = 0 ]; then echo "VMTEST CASE $CASE PASS"; else echo "VMTEST CASE $CASE FAIL"; fi
}
fail() { echo "VMTEST CHECK-FAILED $CASE: $*"; CASE_FAILED=1; }
note() { echo "VMTEST NOTE $CASE: $*"; }
evidence() { sed "s/^/VMTEST EVIDENCE $CASE | /" "$1" | head -n 40; }
# check "what must hold" command args...: runs the command, fails the case with its output
# when it exits non-zero.
check() {
  what=$1; shift
  if ! "$@" > /tmp/check.out 2>&1; then fail "$what"; evidence /tmp/check.out; fi
}
# expect_eq "what" have want
expect_eq() {
  if [ "$2" != "$3" ]; then fail "$1: have '$2', want '$3'"; fi
}
settle() { udevadm settle --timeout=60; sleep 1; udevadm settle --timeout=60; }

# The kernel's partitions of a disk as "number start size" lines, sorted (sysfs).
kernel_parts() {
  for p in /sys/block/$1/$1*; do
    [ -e "$p/partition" ] || continue
    echo "$(cat "$p/partition") $(cat "$p/start") $(cat "$p/size")"
  done | sort -n
}
# The on-disk table's partitions as "number start size" lines, read by partx (the oracle).
# Not `sgdisk -p`: it opens the disk for writing, so its close makes udevd re-read the table.
table_parts() {
  partx -g -o NR,START,SECTORS "/dev/$1" 2>/dev/null | awk '{print $1, $2, $3}' | sort -n
}
# Fails the case unless the kernel's partitions of $1 equal the on-disk table, every node
# exists, and the table has exactly the numbers in $2 ("1 3 12").
kernel_matches_table() {
  disk=$1 want_numbers=$2
  kernel_parts "$disk" > /tmp/kernel.parts
  table_parts "$disk" > /tmp/table.parts
  if ! cmp -s /tmp/kernel.parts /tmp/table.parts; then
    fail "the kernel's partitions of $disk differ from its table (kernel, then partx)"
    { cat /tmp/kernel.parts; echo "-- partx:"; cat /tmp/table.parts; } > /tmp/both.parts
    evidence /tmp/both.parts
  fi
  have_numbers=$(awk '{print $1}' /tmp/table.parts | tr '\n' ' ' | sed 's/ $//')
  expect_eq "partition numbers of $disk" "$have_numbers" "$want_numbers"
  for n in $want_numbers; do
    [ -b "/dev/$disk$n" ] || fail "/dev/$disk$n is not a block device node"
  done
}
# A fingerprint of what is written at the start and the end of a disk (both GPT areas).
fingerprint() {
  sectors=$(cat "/sys/block/$1/size")
  { dd if="/dev/$1" bs=512 count=2048 2>/dev/null
    dd if="/dev/$1" bs=512 skip=$((sectors - 2048)) count=2048 2>/dev/null; } | sha256sum | cut -d' ' -f1
}
udev_prop() { udevadm info --query=property --name="$1" 2>/dev/null | sed -n "s/^$2=//p"; }
# udev's \xNN encoding (ID_PART_ENTRY_NAME, ID_FS_LABEL_ENC), decoded.
udev_decode() { printf '%b' "$1"; }
json_field() { jq -r --arg p "$2" ".devices[] | select(.path == \$p) | .$3 // empty" "$1"; }

# 1. Hostile labels written by sgdisk, mkntfs and mkfs.ext4: what cephboot reports is what
#    udev's own blkid decoding says, and udev made the by-partlabel links for those names.
case_list_matches_udev() {
  case_begin list_matches_udev
  check "sgdisk writes the labels" sgdisk \
    -n1:1M:+16M -c1:新加卷 \
    -n2:0:+16M '-c2:has spaces / and slash' \
    '-n3:0:+16M' '-c3:rocket 🚀 𝄞' \
    -n4:0:+16M -c4:KOLLA_CEPH_OSD_BOOTSTRAP_BS /dev/vda
  settle
  check "mkntfs" mkntfs -Q -F -L 新加卷 /dev/vda1
  check "mkfs.ext4" mkfs.ext4 -q -F -L '新加卷 ext4' /dev/vda2
  settle
  # udevd re-reads vda's table when mkfs closes a partition (its watch): while it does, the
  # partitions are gone from the kernel for a moment and the disk is locked. Seen once under
  # load in CI (every field empty); list again, up to 10 s, until the listing names vda1.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    check "cephboot disks list" sh -c 'cephboot disks list --format json > /tmp/list.json'
    [ -n "$(json_field /tmp/list.json /dev/vda1 partition_name)" ] && break
    sleep 1
    settle
  done
  expect_eq "vda1 name" "$(json_field /tmp/list.json /dev/vda1 partition_name)" "新加卷"
  expect_eq "vda2 name" "$(json_field /tmp/list.json /dev/vda2 partition_name)" "has spaces / and slash"
  expect_eq "vda3 name" "$(json_field /tmp/list.json /dev/vda3 partition_name)" "rocket 🚀 𝄞"
  expect_eq "vda1 fs label" "$(json_field /tmp/list.json /dev/vda1 fs_label)" "新加卷"
  expect_eq "vda1 fs type" "$(json_field /tmp/list.json /dev/vda1 fs_type)" ntfs
  expect_eq "vda2 fs type" "$(json_field /tmp/list.json /dev/vda2 fs_type)" ext4
  expect_eq "vda2 fs label" "$(json_field /tmp/list.json /dev/vda2 fs_label)" "新加卷 ext4"
  expect_eq "vda2 fs label by udev" "$(udev_decode "$(udev_prop /dev/vda2 ID_FS_LABEL_ENC)")" "新加卷 ext4"
  expect_eq "vda4 state" "$(json_field /tmp/list.json /dev/vda4 state)" "bootstrap"
  compared=0
  for n in 1 2 3 4; do
    dev=/dev/vda$n
    enc_name=$(udev_prop $dev ID_PART_ENTRY_NAME)
    [ -n "$enc_name" ] || { fail "udev has no ID_PART_ENTRY_NAME for $dev"; continue; }
    expect_eq "$dev name (cephboot vs udev)" "$(json_field /tmp/list.json $dev partition_name)" "$(udev_decode "$enc_name")"
    expect_eq "$dev PARTUUID (cephboot vs udev)" "$(json_field /tmp/list.json $dev partition_uuid)" "$(udev_prop $dev ID_PART_ENTRY_UUID)"
    expect_eq "$dev type (cephboot vs udev)" "$(json_field /tmp/list.json $dev type_guid)" "$(udev_prop $dev ID_PART_ENTRY_TYPE)"
    expect_eq "$dev fs type (cephboot vs udev)" "$(json_field /tmp/list.json $dev fs_type)" "$(udev_prop $dev ID_FS_TYPE)"
    expect_eq "$dev fs label (cephboot vs udev)" "$(json_field /tmp/list.json $dev fs_label)" "$(udev_decode "$(udev_prop $dev ID_FS_LABEL_ENC)")"
    # udev names the link with the encoded name; it must lead to the partition cephboot named.
    link="/dev/disk/by-partlabel/$enc_name"
    expect_eq "$link points at" "$(readlink -f "$link")" "$dev"
    compared=$((compared + 1))
  done
  expect_eq "partitions compared" "$compared" 4
  note "udev's encoded names: $(for n in 1 2 3; do printf '[%s] ' "$(udev_prop /dev/vda$n ID_PART_ENTRY_NAME)"; done)"
  case_end
}

# Kernel uevents of block devices, recorded from now on (with their SEQNUM).
monitor_start() {
  # stdbuf: udevadm's output to a file is block-buffered, and the cases read it while it runs.
  stdbuf -oL udevadm monitor --kernel --property --subsystem-match=block > /tmp/uevents.log 2>&1 &
  MONITOR=$!
  sleep 0.5
}
monitor_stop() { kill "$MONITOR" 2>/dev/null; wait "$MONITOR" 2>/dev/null; }
# The partitions of disk $2 the kernel removed after uevent number $1.
removes_after() {
  awk -v seq="$1" -v disk="$2" 'BEGIN { RS = "" }
    /ACTION=remove/ {
      s = 0; n = ""
      k = split($0, line, "\n")
      for (i = 1; i <= k; i++) {
        if (line[i] ~ /^SEQNUM=/) s = substr(line[i], 8) + 0
        if (line[i] ~ /^DEVNAME=/) n = substr(line[i], 9)
      }
      if (s > seq + 0 && n ~ ("^/dev/" disk "[0-9]+$")) print n
    }' /tmp/uevents.log | sort -u | tr '\n' ' '
}

# 2. cephboot rewrites a table while udevd watches the disk (udevd re-processes a disk
#    whenever a writer closes it, and re-reads its table when it can take the lock): the kernel
#    ends up exactly on the new table, no partition disappears after cephboot returns (it
#    hands the disk back to udevd under a shared lock), and mkfs.xfs on a just-created
#    partition succeeds, run by cephboot under its lock or by the next command right after
#    (the seed's "cannot open /dev/sdb1: Device or resource busy").
case_rewrite_under_udev() {
  case_begin rewrite_under_udev
  monitor_start
  check "sgdisk writes the first table" sgdisk -n1:1M:+10M -n2:0:+20M -n3:0:0 /dev/vdb
  settle
  kernel_matches_table vdb "1 2 3"
  # The peer first: even `sgdisk -p` opens the disk for writing, and when it closes it udevd
  # re-reads the table: every partition is removed and added again. This also proves the
  # uevent record sees such a re-read, so the checks after each cephboot step can fail.
  seq=$(cat /sys/kernel/uevent_seqnum)
  sgdisk -p /dev/vdb > /dev/null 2>&1
  waited=0
  while [ -z "$(removes_after "$seq" vdb)" ] && [ "$waited" -lt 20 ]; do
    sleep 1; waited=$((waited + 1))
  done
  gone=$(removes_after "$seq" vdb)
  if [ -n "$gone" ]; then
    note "after sgdisk -p closed vdb, udevd's re-read removed $gone (within ${waited}s)"
  else
    fail "no re-read by udevd within 20s after sgdisk -p: the uevent record cannot show one"
  fi
  grace=$((waited + 2))
  settle
  kernel_matches_table vdb "1 2 3"
  step=0
  release_ms=""
  for layout in \
    "1:50M:first 12:400M:twelve 3:rest:three|12|locked" \
    "1:400M:one 5:rest:five|1|after" \
    "4:rest:four|4|locked" \
    "2:400M:two 3:400M:three 7:rest:seven|3|after"; do
    step=$((step + 1))
    specs=${layout%%|*}
    rest=${layout#*|}
    target=${rest%|*}
    when=${rest#*|}
    numbers=$(for s in $specs; do echo "${s%%:*}"; done | sort -n | tr '\n' ' ' | sed 's/ $//')
    if [ "$when" = locked ]; then
      # shellcheck disable=SC2086
      vm-table-driver rewrite /dev/vdb $specs --then mkfs.xfs -f -K -q /dev/vdb$target > /tmp/rewrite.out 2>&1
      rc=$?
    else
      # shellcheck disable=SC2086
      vm-table-driver rewrite /dev/vdb $specs > /tmp/rewrite.out 2>&1
      rc=$?
      mkfs.xfs -f -K -q /dev/vdb$target 2>&1 | sed 's/^/mkfs.xfs right after: /' >> /tmp/rewrite.out
      [ -z "$(grep 'mkfs.xfs right after' /tmp/rewrite.out)" ] || rc=1
    fi
    released=$(head -n1 /tmp/rewrite.out | jq -r '.seqnum_before_release // 0' 2>/dev/null || echo 0)
    release_ms="$release_ms $(sed -n 2p /tmp/rewrite.out | jq -r '.released_in_ms // "?"' 2>/dev/null)"
    if [ "$rc" != 0 ]; then
      fail "step $step: rewrite to '$specs' and mkfs.xfs on vdb$target ($when)"; evidence /tmp/rewrite.out
    fi
    settle
    sleep "$grace" # as long as udevd took to re-read after sgdisk, and then some
    gone=$(removes_after "$released" vdb)
    [ "$released" -gt 0 ] || fail "step $step: the driver did not report its last uevent number"
    [ -z "$gone" ] || fail "step $step: the kernel removed $gone after cephboot released vdb"
    kernel_matches_table vdb "$numbers"
    expect_eq "step $step: filesystem on vdb$target (blkid -p)" \
      "$(blkid -p -s TYPE -o value /dev/vdb$target 2>/dev/null)" xfs
    for s in $specs; do
      name=${s##*:}
      if [ "$(readlink -f /dev/disk/by-partlabel/$name)" != "/dev/vdb${s%%:*}" ]; then
        fail "step $step: /dev/disk/by-partlabel/$name does not lead to /dev/vdb${s%%:*}"
        { ls -l /dev/disk/by-partlabel; udevadm info "/dev/vdb${s%%:*}"; } > /tmp/links.out 2>&1
        evidence /tmp/links.out
      fi
    done
  done
  # A while later the kernel still has them all.
  sleep 2
  kernel_matches_table vdb "2 3 7"
  note "letting go of vdb (hand-back to udevd included) took these ms per step:$release_ms"
  monitor_stop
  case_end
}

# 3. A partition held open elsewhere makes the kernel refuse BLKRRPART (EBUSY), the failure
#    behind "the kernel is still using the old partition table". cephboot's BLKPG path still
#    brings in the partitions it changed; a change to the open partition itself is refused
#    before anything is written.
case_blkrrpart_busy_blkpg_syncs() {
  case_begin blkrrpart_busy_blkpg_syncs
  check "sgdisk writes the first partition" sgdisk -n1:1M:+100M -c1:in-use /dev/vdc
  settle
  sleep 3600 < /dev/vdc1 &
  holder=$!
  sleep 0.2
  # The peer: sgdisk adds a partition, the kernel's re-read fails, the kernel does not see it.
  sgdisk -n2:0:+320M -c2:added-by-sgdisk /dev/vdc > /tmp/sgdisk.out 2>&1
  settle
  if [ -e /sys/block/vdc/vdc2 ]; then
    fail "precondition: the kernel saw sgdisk's new partition although vdc1 is open"
  else
    note "sgdisk, with vdc1 open: $(grep -i -m1 'kernel' /tmp/sgdisk.out)"
  fi
  # cephboot's sync brings it in without touching vdc1.
  check "vm-table-driver sync (BLKPG) with vdc1 open" vm-table-driver sync /dev/vdc
  kernel_matches_table vdc "1 2"
  check "mkfs.xfs on the partition the kernel now has" mkfs.xfs -f -K -q /dev/vdc2
  # A rewrite that keeps the open partition as it is (a shared journal disk in osd prepare).
  if ! vm-table-driver rewrite /dev/vdc --no-guards 1:100M:in-use 2:320M:two 3:rest:three \
       --then mkfs.xfs -f -K -q /dev/vdc3 > /tmp/rewrite.out 2>&1; then
    fail "rewrite keeping the open vdc1"; evidence /tmp/rewrite.out
  fi
  head -n1 /tmp/rewrite.out > /tmp/report.json
  expect_eq "BLKRRPART answer recorded" "$(jq -r '.sync.reread // "none"' /tmp/report.json 2>/dev/null | grep -c -i busy)" 1
  expect_eq "partitions added by BLKPG" "$(jq -c '.sync.added' /tmp/report.json 2>/dev/null)" "[3]"
  settle
  kernel_matches_table vdc "1 2 3"
  kill -0 "$holder" 2>/dev/null || fail "the process holding vdc1 is gone"
  # Changing the open partition: refused by the guards, nothing written.
  before=$(fingerprint vdc)
  vm-table-driver rewrite /dev/vdc 1:50M:smaller 2:rest:rest > /tmp/refused.out 2>&1
  expect_eq "exit code of a rewrite that must remove the open vdc1" "$?" 3
  grep -q "sleep (pid $holder)" /tmp/refused.out || { fail "the refusal does not name the holder"; evidence /tmp/refused.out; }
  cephboot disks zap /dev/vdc > /tmp/zap.out 2>&1
  expect_eq "exit code of disks zap with vdc1 open" "$?" 3
  grep -q "sleep (pid $holder)" /tmp/zap.out || { fail "zap's refusal does not name the holder"; evidence /tmp/zap.out; }
  expect_eq "vdc written by a refused command" "$(fingerprint vdc)" "$before"
  settle
  kernel_matches_table vdc "1 2 3"
  # Without the guards the kernel cannot drop vdc1: the sync fails naming the holder, and once
  # the holder is gone a sync puts the kernel on the table.
  vm-table-driver rewrite /dev/vdc --no-guards 1:50M:smaller 2:rest:rest > /tmp/busy.out 2>&1
  expect_eq "exit code when the kernel would not release vdc1" "$?" 6
  grep -q "sleep (pid $holder)" /tmp/busy.out || { fail "the busy error does not name the holder"; evidence /tmp/busy.out; }
  kill "$holder"; wait "$holder" 2>/dev/null
  check "sync once vdc1 is free" vm-table-driver sync /dev/vdc
  settle
  kernel_matches_table vdc "1 2"
  case_end
}

# 4. disks zap, with udevd watching: nothing is left for blkid -p, wipefs or the kernel, and
#    udev's re-read after the close brings nothing back.
case_zap_leaves_nothing() {
  case_begin zap_leaves_nothing
  for d in vda vdc; do
    [ -n "$(kernel_parts $d)" ] || fail "precondition: $d has partitions"
  done
  check "cephboot disks zap /dev/vda /dev/vdc" cephboot disks zap /dev/vda /dev/vdc
  settle
  for d in vda vdc; do
    blkid -p /dev/$d > /tmp/blkid.out 2>&1
    expect_eq "blkid -p /dev/$d exit code (2: nothing found)" "$?" 2
    wipefs --no-act /dev/$d > /tmp/wipefs.out 2>&1
    [ -s /tmp/wipefs.out ] && { fail "wipefs still finds signatures on $d"; evidence /tmp/wipefs.out; }
    expect_eq "kernel partitions of $d" "$(kernel_parts $d)" ""
    ls /dev/$d[0-9]* > /dev/null 2>&1 && fail "partition nodes of $d are left: $(ls /dev/$d[0-9]*)"
    expect_eq "udev's table type for $d" "$(udev_prop /dev/$d ID_PART_TABLE_TYPE)" ""
  done
  for link in /dev/disk/by-partlabel/*; do
    [ -e "$link" ] || continue
    case "$(readlink -f "$link")" in /dev/vda*|/dev/vdc*) fail "a by-partlabel link still leads to a zapped disk: $link";; esac
  done
  case_end
}

# 5. osd prepare --dry-run on a Kolla-labelled disk prints the plan and writes nothing.
case_prepare_dry_run() {
  case_begin prepare_dry_run
  check "sgdisk labels vdd" sgdisk -n1:1M:0 -c1:KOLLA_CEPH_OSD_BOOTSTRAP_BS /dev/vdd
  settle
  before=$(fingerprint vdd)
  check "osd prepare --dry-run /dev/vdd" sh -c 'cephboot osd prepare --dry-run /dev/vdd --format json > /tmp/plan.json'
  expect_eq "action" "$(jq -r '.osds[0].action' /tmp/plan.json)" would_create
  expect_eq "store" "$(jq -r '.osds[0].plan.store' /tmp/plan.json)" bluestore
  expect_eq "main partition label" "$(jq -r '.osds[0].plan.main.partitions[0].label' /tmp/plan.json)" KOLLA_CEPH_OSD_BOOTSTRAP_BS
  check "osd prepare --dry-run --all-bootstrap" sh -c 'cephboot osd prepare --dry-run --all-bootstrap --format json > /tmp/all.json'
  expect_eq "disks --all-bootstrap finds" "$(jq -r '[.osds[].device] | join(",")' /tmp/all.json)" /dev/vdd
  expect_eq "vdd written by a dry run" "$(fingerprint vdd)" "$before"
  kernel_matches_table vdd "1"
  case_end
}

run_all_cases() {
  echo "VMTEST PLAN $CASES"
  for c in $CASES; do "case_$c"; done
}
