# shellcheck shell=bash
# Shared helpers for the benchmarks: loop devices on sparse files that this run created (and
# only those), cleanup on exit, machine facts, and hyperfine JSON -> markdown.
# Sourced by bench/*/run; expects `set -euo pipefail` in the caller.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CEPHBOOT=${CEPHBOOT:-$BENCH_ROOT/target/release/cephboot}
# Never let a caller's CEPH_CONF point a tool at some other cluster.
unset CEPH_CONF

BENCH_T0=${BENCH_T0:-$(date +%s)}
log() { echo "[bench +$(($(date +%s) - BENCH_T0))s] $*" >&2; }
die() { echo "[bench] error: $*" >&2; exit 1; }

bench_require() {
  [ "$(id -u)" -eq 0 ] || die "run as root (loop devices, ceph-volume)"
  [ -x "$CEPHBOOT" ] || die "$CEPHBOOT is missing: build it with 'cargo build --release' first"
  local t
  for t in "$@"; do command -v "$t" >/dev/null || die "'$t' is not installed (scripts/install-deps)"; done
}

# A private work directory under /var/tmp; every image this run creates lives in it, so
# cleanup can find exactly our loop devices with `losetup -j`.
bench_workdir() {
  BENCH_WORK=$(mktemp -d "/var/tmp/cephboot-bench-$1.XXXXXX")
  mkdir -p "$BENCH_WORK/img"
}

# mk_loop NAME SIZE [sgdisk args...]: a sparse image (partitioned first when args are given)
# attached as a loop device; prints the device.
mk_loop() {
  local name=$1 size=$2 img
  shift 2
  img="$BENCH_WORK/img/$name.img"
  truncate -s "$size" "$img"
  if [ $# -gt 0 ]; then sgdisk "$@" "$img" >/dev/null; fi
  attach_loop "$img"
}

# attach_loop IMG: attach one of our images; prints the device.
attach_loop() {
  local dev
  dev=$(losetup -f --show "$1")
  # A loop device detached while it had BLKPG-added partitions keeps them in the kernel
  # (seen on this machine: a free loop8 still had a 2 GiB loop8p1 from an earlier user).
  # The device is ours now: drop such stale partitions so they do not skew the listing.
  if compgen -G "/sys/class/block/${dev#/dev/}/${dev#/dev/}p*" >/dev/null; then
    log "warning: $dev came with stale kernel partitions ($(cd "/sys/class/block/${dev#/dev/}" && echo "${dev#/dev/}"p*)); removing them"
    partx -d "$dev" >/dev/null 2>&1 || true
  fi
  echo "$dev"
}

# Detach every loop device backed by one of our images (and drop its kernel partitions).
# Device nodes get their owner back: ceph-volume chowns the node to ceph:ceph.
detach_our_loops() {
  [ -n "${BENCH_WORK:-}" ] && [ -d "$BENCH_WORK/img" ] || return 0
  local img dev
  for img in "$BENCH_WORK"/img/*.img; do
    [ -e "$img" ] || continue
    for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do
      partx -d "$dev" >/dev/null 2>&1 || true
      chown root:root "$dev" 2>/dev/null || true
      losetup -d "$dev" 2>/dev/null || log "warning: could not detach $dev ($img)"
    done
    rm -f "$img"
  done
}

bench_cleanup_loops() {
  detach_our_loops
  if [ -n "${BENCH_WORK:-}" ] && [ -d "$BENCH_WORK" ]; then rm -rf "$BENCH_WORK"; fi
}

machine_facts() {
  local ceph_ver
  ceph_ver=$(ceph --version 2>/dev/null | awk '{print $3}') || ceph_ver=unknown
  echo "Machine: $(nproc) cores, kernel $(uname -r), $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; $(date -u '+%Y-%m-%d %H:%M UTC'); cephboot $("$CEPHBOOT" --version | awk '{print $2}') (binary built $(date -u -r "$CEPHBOOT" '+%Y-%m-%d %H:%M UTC'), tree at $(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)); ceph $ceph_ver; hyperfine $(hyperfine --version | awk '{print $2}')"
}

# hf_field JSON INDEX FIELD: a number from hyperfine's export (seconds).
hf_field() { jq -r ".results[$2].$3" "$1"; }

# ms SECONDS -> milliseconds with adaptive precision.
ms() { awk -v s="$1" 'BEGIN { v = s * 1000; if (v < 10) printf "%.2f", v; else if (v < 100) printf "%.1f", v; else printf "%.0f", v }'; }

# ratio A B -> A/B with one or two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else { r = a / b; if (r < 10) printf "%.2f", r; else printf "%.1f", r } }'; }

# yes/no for a comparison done in awk: check "EXPR" with a, b bound.
check() { awk -v a="$2" -v b="$3" "BEGIN { exit !($1) }" && echo "met" || echo "**missed**"; }
