#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: pools
author: cephboot developers (@cephboot)
short_description: OpenStack pools sized for the cluster, client keyrings, Cinder volume types
description:
  - >-
    Runs C(cephboot pools init) (docs/pools.md): sizes pools for the cluster's shape (one OSD
    gets size 1), creates or adjusts images, volumes, backups and vms, the clients
    client.glance, client.cinder, client.cinder-backup and client.nova with least-privilege
    caps and their keyrings (0600), and, with I(volume_types), the Cinder volume types.
  - Rerunning is C(ok). Check mode is cephboot's C(--dry-run).
options:
  single_node:
    description: Assert that the cluster is one host.
    type: bool
    default: false
  replicas:
    description: Copies per object, overriding the policy.
    type: int
  pools:
    description: Pools to create or bring to policy.
    type: list
    elements: str
  layout:
    description: C(plain) or C(kolla) (keyrings where kolla-ansible looks for them).
    type: str
    choices: [plain, kolla]
  keyring_dir:
    description: Where keyrings go.
    type: path
  mute_size_warning:
    description: Mute POOL_NO_REDUNDANCY for size-1 pools.
    type: bool
    default: false
  allow_shrink:
    description:
      - Lower the size of pools that have more copies than the cluster's shape now gives (a
        host or OSDs removed). Without it such a run fails and changes nothing.
    type: bool
    default: false
  device_class:
    description: Keep the pools on OSDs of this CRUSH device class (C(ssd), say).
    type: str
  volume_types:
    description: Cinder volume types as C(NAME=BACKEND) (e.g. C(ceph=rbd-1)).
    type: list
    elements: str
    default: []
  default_volume_type:
    description: Make the first volume type the project's default.
    type: bool
    default: false
extends_documentation_fragment:
  - cephboot.ceph.common
  - cephboot.ceph.common.openstack
"""
EXAMPLES = r"""
- name: Pools, keyrings and the volume type in one step
  cephboot.ceph.pools:
    single_node: true
    volume_types: [ceph=rbd-1]
    os_cloud: kolla-admin
"""
RETURN = r"""
changes:
  description: Per object (config, rule, pool, client, keyring, health), cephboot's action.
  returned: success
  type: list
decision:
  description: The sizing decision (size, min_size, failure domain, reason).
  returned: success
  type: dict
volume_types:
  description: Per volume type, cephboot's action.
  returned: success
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(
            single_node=dict(type="bool", default=False),
            replicas=dict(type="int"),
            pools=dict(type="list", elements="str"),
            layout=dict(type="str", choices=["plain", "kolla"]),
            keyring_dir=dict(type="path"),
            mute_size_warning=dict(type="bool", default=False),
            allow_shrink=dict(type="bool", default=False),
            device_class=dict(type="str"),
            volume_types=dict(type="list", elements="str", default=[]),
            default_volume_type=dict(type="bool", default=False),
        ), openstack=True),
        supports_check_mode=True,
        mutually_exclusive=[("single_node", "replicas")],
    )
    p = module.params
    args = ["pools", "init"]
    if p["single_node"]:
        args.append("--single-node")
    if p["replicas"] is not None:
        args += ["--replicas", str(p["replicas"])]
    if p["pools"]:
        args += ["--pools", ",".join(p["pools"])]
    if p["layout"]:
        args += ["--layout", p["layout"]]
    if p["keyring_dir"]:
        args += ["--keyring-dir", p["keyring_dir"]]
    if p["mute_size_warning"]:
        args.append("--mute-size-warning")
    if p["allow_shrink"]:
        args.append("--allow-shrink")
    if p["device_class"]:
        args += ["--device-class", p["device_class"]]
    for t in p["volume_types"]:
        args += ["--volume-type", t]
    if p["default_volume_type"]:
        args.append("--default-volume-type")
    if p["volume_types"]:
        args += cephboot.os_flags(p)
    report = cephboot.run(module, args)
    changes = report.get("changes", [])
    types = report.get("volume_types", [])
    result = dict(
        changed=cephboot.would_change(report, "changes") or cephboot.would_change({"x": types}, "x"),
        changes=changes,
        decision=report.get("decision"),
        volume_types=types,
        notes=report.get("notes", []),
    )
    diff = cephboot.diff_of(changes + [dict(t, kind="volume type") for t in types],
                            lambda c: "%s %s: %s" % (c.get("kind"), c.get("name"), c.get("action")))
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
