#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: cluster
author: cephboot developers (@cephboot)
short_description: This host's Ceph monitor and manager, bootstrapped or joined, with cephboot
description:
  - >-
    Without I(bundle), runs C(cephboot cluster bootstrap): the first host of a cluster (its
    monitor on I(mon_ip)), or a one-host cluster with I(single_node) (docs/hosts.md).
  - >-
    With I(bundle), runs C(cephboot cluster join): this host's monitor on I(mon_ip) joins
    the bundle's cluster (a three-monitor quorum takes three hosts), and a manager. The
    bundle is what M(cephboot.ceph.cluster_bundle) returned on a host of the cluster; it
    holds the cluster's admin key, so it is written to a private temporary file for the
    join and removed afterwards, and the option is never logged.
  - A rerun is C(ok) when the daemons run, and starts what stopped. Check mode is cephboot's
    C(--dry-run) (C(would_create), C(would_start)).
options:
  state:
    description: C(present) only; removing a host's monitor is not done by this module.
    type: str
    choices: [present]
    default: present
  mon_ip:
    description: This host's monitor address (msgr2, port 3300 unless I(port)).
    type: str
  single_node:
    description: A one-host cluster on 127.0.0.1 (no other host can join it).
    type: bool
    default: false
  port:
    description: The monitor port of a new first host.
    type: int
  bundle:
    description: The contents of a join bundle (from M(cephboot.ceph.cluster_bundle)); join
      instead of bootstrapping. JSON text, or the mapping Ansible's templating makes of it.
    type: raw
extends_documentation_fragment:
  - cephboot.ceph.common
"""
EXAMPLES = r"""
- name: The first monitor
  cephboot.ceph.cluster:
    mon_ip: 10.0.0.11
- name: What the others need to join
  cephboot.ceph.cluster_bundle:
  register: cephboot_bundle
  no_log: true
- name: The other monitors
  cephboot.ceph.cluster:
    mon_ip: "{{ cephboot_mon_ip }}"
    bundle: "{{ hostvars[groups.cephboot[0]].cephboot_bundle.bundle }}"
  no_log: true
"""
RETURN = r"""
fsid:
  description: The cluster's fsid (empty in check mode for a cluster not made yet).
  returned: success
  type: str
mon_host:
  description: The monitor addresses.
  returned: success
  type: str
conf:
  description: The ceph.conf written for this host.
  returned: success
  type: str
daemons:
  description: Per daemon (C(mon.NAME), C(mgr.NAME)), cephboot's action and pid.
  returned: success
  type: list
"""

import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(
            state=dict(type="str", choices=["present"], default="present"),
            mon_ip=dict(type="str"),
            single_node=dict(type="bool", default=False),
            port=dict(type="int"),
            bundle=dict(type="raw", no_log=True),
        )),
        supports_check_mode=True,
        mutually_exclusive=[("single_node", "mon_ip"), ("single_node", "bundle")],
        required_one_of=[("single_node", "mon_ip")],
        required_by={"bundle": "mon_ip"},
    )
    p = module.params
    private = None
    try:
        if p["bundle"]:
            private = tempfile.mkdtemp(prefix="cephboot-join-")
            os.chmod(private, 0o700)
            path = os.path.join(private, "bundle.json")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            bundle = p["bundle"]
            if not isinstance(bundle, str):
                # Templating turns JSON text into a mapping: write it back as JSON.
                bundle = json.dumps(bundle)
            with os.fdopen(fd, "w") as f:
                f.write(bundle)
            args = ["cluster", "join", "--bundle", path, "--mon-ip", p["mon_ip"]]
        else:
            args = ["cluster", "bootstrap"]
            if p["single_node"]:
                args.append("--single-node")
            else:
                args += ["--mon-ip", p["mon_ip"]]
            if p["port"] is not None:
                args += ["--port", str(p["port"])]
        report = cephboot.run(module, args)
    finally:
        if private:
            shutil.rmtree(private, ignore_errors=True)
    daemons = report.get("daemons", [])
    result = dict(
        changed=cephboot.would_change(report, "daemons"),
        fsid=report.get("fsid", ""),
        mon_host=report.get("mon_host", ""),
        conf=report.get("conf", ""),
        daemons=daemons,
    )
    diff = cephboot.diff_of(daemons, lambda d: "%s: %s" % (d.get("name"), d.get("action")))
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
