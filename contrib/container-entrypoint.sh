#!/bin/sh
# Container entrypoints for a privileged container with /dev, /sys, /run/cephboot and
# /etc/ceph from the host (e.g. `--privileged --net=host -v /dev:/dev -v /sys:/sys
# -v /run/udev:/run/udev:ro`). /run/udev tells cephboot that the host's udevd runs, so it hands
# each disk it changed back to udevd without a partition-table re-read (docs/zap-and-sync.md);
# without it a disk is simply closed and udevd may re-read its table just after cephboot returns.
#
#   entrypoint.sh daemon      # the hot-plug daemon (logs to stderr, structured)
#   entrypoint.sh osd ID      # one OSD in the foreground: cephboot execs ceph-osd -f
#   entrypoint.sh bootstrap   # prepare every Kolla-labelled disk once, then exit
set -eu
case "${1:-daemon}" in
  daemon) exec cephboot daemon --auto-prepare ${CEPHBOOT_CONFIG:+--config "$CEPHBOOT_CONFIG"} ;;
  osd) exec cephboot osd activate "$2" --exec ;;
  bootstrap) exec cephboot osd prepare --all-bootstrap --format json ;;
  *) echo "usage: $0 daemon | osd ID | bootstrap" >&2; exit 2 ;;
esac
