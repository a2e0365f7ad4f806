#!/usr/bin/python3
"""Runs in the system guest, in the background: watches the kernel's process table for
`cephboot ... osd prepare DEVICE` processes (the daemon's jobs) and keeps, in OUT (JSON,
rewritten whenever it changes), the most that ran at once and, for each device, the PIDs that
prepared it. Not cephboot: the oracle of "never more jobs at once than `concurrency`" and
"each disk prepared exactly once".

    prepare_jobs.py OUT [--every S]

Every second by default: a prepare under TCG lasts minutes, so two at once are seen, while a
scan of /proc four times a second took guest CPU from the prepares (not measured alone).
"""

import json
import os
import sys
import time


def prepares():
    """{pid: device} of the running `cephboot ... osd prepare DEVICE` processes."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if not args or os.path.basename(args[0]) != "cephboot":
            continue
        for i in range(len(args) - 2):
            if args[i] == "osd" and args[i + 1] == "prepare":
                found[int(pid)] = args[i + 2]
                break
    return found


def main():
    out = sys.argv[1]
    every = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--every" else 1.0
    state = {"max": 0, "samples": 0, "by_device": {}}
    last = None
    while True:
        now = prepares()
        state["samples"] += 1
        state["max"] = max(state["max"], len(now))
        for pid, dev in now.items():
            pids = state["by_device"].setdefault(dev, [])
            if pid not in pids:
                pids.append(pid)
        text = json.dumps({k: v for k, v in state.items() if k != "samples"}, sort_keys=True)
        if text != last:
            tmp = out + ".tmp"
            with open(tmp, "w") as f:
                f.write(json.dumps(state, sort_keys=True))
            os.replace(tmp, out)
            last = text
        time.sleep(every)


if __name__ == "__main__":
    main()
