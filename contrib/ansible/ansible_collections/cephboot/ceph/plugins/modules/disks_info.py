#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: disks_info
author: cephboot developers (@cephboot)
short_description: cephboot's view of the host's disks, as facts
description:
  - Runs C(cephboot disks list) and returns every disk and partition with its state
    (free, bootstrap, prepared, in_use, foreign, error), role, labels and reasons as the
    fact C(cephboot_disks). Reads only; never changes anything.
options:
  devices:
    description: Only these devices (default every block device).
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - cephboot.ceph.common
"""
EXAMPLES = r"""
- name: What cephboot sees
  cephboot.ceph.disks_info:
- name: Fail early when the disk is not labelled for Ceph
  ansible.builtin.assert:
    that: (cephboot_disks | selectattr('path', 'eq', '/dev/sdb') | first).state == 'bootstrap'
"""
RETURN = r"""
ansible_facts:
  description: C(cephboot_disks), the C(devices) list of C(cephboot disks list --format json).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(devices=dict(type="list", elements="path", default=[]))),
        supports_check_mode=True,
    )
    report = cephboot.run(module, ["disks", "list"] + module.params["devices"], dry_run=False)
    module.exit_json(changed=False, ansible_facts={"cephboot_disks": report.get("devices", [])})


if __name__ == "__main__":
    main()
