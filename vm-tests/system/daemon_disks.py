#!/usr/bin/python3
"""Runs in the system guest: prints the cephboot daemon's view (its root-only Unix socket).

  daemon_disks.py          GET /v1/disks: one "PATH STATE" line per disk
  daemon_disks.py jobs     GET /v1/jobs: one "DEVICE STATE" line per job (queued, running,
                           succeeded, failed), then its error on the same line if it failed
"""

import json
import socket
import sys

SOCKET = "/run/cephboot/cephboot.sock"
what = sys.argv[1] if len(sys.argv) > 1 else "disks"
s = socket.socket(socket.AF_UNIX)
s.connect(SOCKET)
s.sendall(b"GET /v1/%s HTTP/1.1\r\nHost: cephboot\r\nConnection: close\r\n\r\n" % what.encode())
reply = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
if what == "jobs":
    for j in body.get("jobs") or []:
        err = j.get("error") or ""
        print(j.get("device"), j.get("state"), err.replace("\n", " ") if j.get("state") == "failed" else "")
else:
    for d in body.get("disks") or body.get("devices") or body:
        print(d.get("path"), d.get("state"))
