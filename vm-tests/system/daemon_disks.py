#!/usr/bin/python3
"""Runs in the system guest: prints the cephboot daemon's view of the disks (GET /v1/disks on
its root-only Unix socket), one "PATH STATE" line each."""

import json
import socket
import sys

SOCKET = sys.argv[1] if len(sys.argv) > 1 else "/run/cephboot/cephboot.sock"
s = socket.socket(socket.AF_UNIX)
s.connect(SOCKET)
s.sendall(b"GET /v1/disks HTTP/1.1\r\nHost: cephboot\r\nConnection: close\r\n\r\n")
reply = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    reply += chunk
body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
for d in body.get("disks") or body.get("devices") or body:
    print(d.get("path"), d.get("state"))
