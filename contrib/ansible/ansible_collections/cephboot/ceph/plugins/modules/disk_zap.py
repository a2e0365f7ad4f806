#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: disk_zap
author: cephboot developers (@cephboot)
short_description: Wipe disks with cephboot (signatures, both GPTs, BlueStore labels)
description:
  - Runs C(cephboot disks zap). Disks that are mounted, held, open or carry another
    cluster's OSD are refused (the task fails with cephboot's reason and exit code 3, and
    nothing is written) unless I(force) where cephboot allows it.
  - Check mode is cephboot's C(--dry-run); a disk already blank is C(unchanged).
options:
  devices:
    description: Whole disks to wipe.
    type: list
    elements: path
    required: true
  force:
    description: Also wipe a disk carrying a BlueStore OSD of another cluster (C(--force)).
    type: bool
    default: false
extends_documentation_fragment:
  - cephboot.ceph.common
"""
EXAMPLES = r"""
- name: Wipe the leftovers of an earlier attempt
  cephboot.ceph.disk_zap:
    devices: [/dev/sdb]
"""
RETURN = r"""
devices:
  description: Per disk, what was (or would be) done, as C(cephboot disks zap --format json).
  returned: success
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(
            devices=dict(type="list", elements="path", required=True),
            force=dict(type="bool", default=False),
        )),
        supports_check_mode=True,
    )
    args = ["disks", "zap"] + module.params["devices"]
    if module.params["force"]:
        args.append("--force")
    report = cephboot.run(module, args)
    result = dict(
        changed=cephboot.would_change(report, "devices"),
        devices=report.get("devices", []),
    )
    diff = cephboot.diff_of(result["devices"], lambda d: "%s: %s" % (d.get("path"), d.get("action")))
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
