#!/usr/bin/python3
"""Runs in the system guest: waits until the cluster is in a state, asking Ceph itself
(librados, the python3-rados binding the ceph CLI uses) from one process, so that a wait costs
the guest one Python start instead of one `ceph` CLI start (2-5 s under TCG) per poll.

    ceph_wait.py [--conf C] [--timeout S] [--every S] CONDITION ARGS...

    clean              every PG active+clean (the manager's `pg stat`)
    quorum             the monitors have a quorum
    up ID...           each OSD is up in the osdmap
    down ID...         each OSD is down in the osdmap
    restarted ID EPOCH the OSD is up with up_from > EPOCH (a new boot)
    count N            N OSDs in the osdmap, each up
    upcount N          exactly N OSDs up

Prints the seconds it waited and the time (Unix seconds) it saw the state, and exits 0; exits 1 on the timeout, printing the last answer
it had, 2 on a usage error. Not cephboot: an oracle of the system guest's cases."""

import argparse
import json
import sys
import time

import rados


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--conf", default="/var/lib/cephboot/ceph.conf")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--every", type=float, default=1.0)
    p.add_argument("condition")
    p.add_argument("args", nargs="*")
    return p.parse_args()


class Cluster:
    def __init__(self, conf):
        self.conf = conf
        self.r = None

    def _connect(self):
        if self.r is None:
            r = rados.Rados(conffile=self.conf, conf={"client_mount_timeout": "10"})
            r.connect(timeout=10)
            self.r = r
        return self.r

    def call(self, cmd, mgr=False):
        """The command's JSON answer, or None while the cluster does not answer."""
        try:
            r = self._connect()
            run = r.mgr_command if mgr else r.mon_command
            ret, out, err = run(json.dumps(dict(cmd, format="json")), b"", timeout=10)
        except (rados.Error, OSError):
            self.close()
            return None
        if ret != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def close(self):
        if self.r is not None:
            try:
                self.r.shutdown()
            except rados.Error:
                pass
            self.r = None


def osds(c):
    d = c.call({"prefix": "osd dump"})
    return None if d is None else {o["osd"]: o for o in d["osds"]}


def judge(c, cond, args):
    """(met, what was seen)"""
    if cond == "clean":
        s = c.call({"prefix": "pg stat"}, mgr=True)
        if s is None:
            return False, "no answer from the manager"
        s = s.get("pg_summary", s)
        clean = sum(x["num"] for x in s.get("num_pg_by_state", []) if x["name"] == "active+clean")
        return s.get("num_pgs", 0) > 0 and clean == s["num_pgs"], s.get("num_pg_by_state")
    if cond == "quorum":
        q = c.call({"prefix": "quorum_status"})
        return q is not None and len(q.get("quorum_names", [])) > 0, q and q.get("quorum_names")
    o = osds(c)
    if o is None:
        return False, "no osdmap"
    if cond == "up":
        ids = [int(a) for a in args]
        return all(i in o and o[i]["up"] == 1 for i in ids), {i: o.get(i, {}).get("up") for i in ids}
    if cond == "down":
        ids = [int(a) for a in args]
        return all(i in o and o[i]["up"] == 0 for i in ids), {i: o.get(i, {}).get("up") for i in ids}
    if cond == "restarted":
        i, epoch = int(args[0]), int(args[1])
        x = o.get(i, {})
        return x.get("up") == 1 and x.get("up_from", 0) > epoch, x.get("up_from")
    if cond == "count":
        n = int(args[0])
        return len(o) == n and all(x["up"] == 1 for x in o.values()), {i: x["up"] for i, x in o.items()}
    if cond == "upcount":
        n = int(args[0])
        up = sorted(i for i, x in o.items() if x["up"] == 1)
        return len(up) == n, up
    raise SystemExit(f"ceph_wait.py: unknown condition {cond}")


def main():
    a = parse()
    c = Cluster(a.conf)
    start = time.monotonic()
    seen = None
    while True:
        met, seen = judge(c, a.condition, a.args)
        took = time.monotonic() - start
        if met:
            print(f"{took:.1f} {time.time():.1f}")
            c.close()
            return 0
        if took >= a.timeout:
            print(f"ceph_wait.py: {a.condition} {' '.join(a.args)} not reached in {a.timeout:.0f} s; last seen: {seen}", file=sys.stderr)
            c.close()
            return 1
        time.sleep(a.every)


if __name__ == "__main__":
    sys.exit(main())
