# shellcheck shell=bash
# ceph-volume against a benchmark's own cluster (not /etc/ceph/ceph.conf). Sourced after
# common.sh; CL (the cluster name ceph-volume is given) must be set.
#
#  * `--cluster $CL`: its hard-wired paths become /var/lib/ceph/osd/$CL-ID and
#    /var/lib/ceph/bootstrap-osd/$CL.keyring (a copy of the cluster's client.bootstrap-osd
#    keyring), so nothing of another cluster's is touched;
#  * CEPH_CONF=<copy of the cluster's ceph.conf>: the copy moves `run dir`, `pid file`,
#    `admin socket` and `log file` to a ceph-owned directory, because ceph-volume runs
#    `ceph-osd --mkfs --setuser ceph` and the state directory is root-only (0700);
#  * CEPH_VOLUME_ALLOW_LOOP_DEVICES=1: without it ceph-volume refuses loop devices.

# cv_setup WORK STATE_DIR: writes WORK/cv/ceph.conf from STATE_DIR's and installs the
# bootstrap keyring; CV is set to WORK/cv.
cv_setup() {
  local work=$1 state=$2
  CV=$work/cv
  chmod 711 "$work"
  mkdir -p "$CV/run" "$CV/log" /var/lib/ceph/bootstrap-osd
  chown ceph:ceph "$CV/run" "$CV/log"
  chmod 755 "$CV"
  sed -e "s#^run dir = .*#run dir = $CV/run#" \
    -e "s#^pid file = .*#pid file = $CV/run/\$cluster-\$name.pid#" \
    -e "s#^admin socket = .*#admin socket = $CV/run/\$cluster-\$name.asok#" \
    -e "s#^log file = .*#log file = $CV/log/\$cluster-\$name.log#" "$state/ceph.conf" >"$CV/ceph.conf"
  chmod 644 "$CV/ceph.conf"
  install -m 600 "$state/ceph.client.bootstrap-osd.keyring" "/var/lib/ceph/bootstrap-osd/$CL.keyring"
}

# cv_leftovers: unmounts and removes ceph-volume's OSD directories of $CL (a failed `raw
# prepare` leaves its tmpfs mounted: its rollback purges the id, then raises).
cv_leftovers() {
  local d
  for d in /var/lib/ceph/osd/"$CL"-*; do
    [ -e "$d" ] || continue
    while mountpoint -q "$d"; do umount "$d" || break; done
    rmdir "$d" 2>/dev/null || log "warning: could not remove $d"
  done
}

# cv_refuse_stale: dies when $CL's paths already exist (another run's, or a stranger's).
cv_refuse_stale() {
  compgen -G "/var/lib/ceph/osd/$CL-*" >/dev/null && die "/var/lib/ceph/osd/$CL-* already exists"
  [ ! -e "/var/lib/ceph/bootstrap-osd/$CL.keyring" ] || die "/var/lib/ceph/bootstrap-osd/$CL.keyring already exists"
}

# cv_cleanup: what cv_setup and ceph-volume's runs left.
cv_cleanup() {
  cv_leftovers
  rm -f "/var/lib/ceph/bootstrap-osd/$CL.keyring"
}

# cv_raw_prepare DEV: `ceph-volume raw prepare --bluestore --data DEV` as this benchmark runs it.
cv_raw_prepare() {
  env CEPH_VOLUME_ALLOW_LOOP_DEVICES=1 CEPH_CONF="$CV/ceph.conf" \
    ceph-volume --cluster "$CL" --log-path "$CV/log" raw prepare --bluestore --data "$1"
}
