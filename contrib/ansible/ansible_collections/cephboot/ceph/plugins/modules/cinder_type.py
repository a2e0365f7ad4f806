#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: cinder_type
author: cephboot developers (@cephboot)
short_description: A Cinder volume type that lands on the Ceph pools
description:
  - Runs C(cephboot cinder type ensure) (docs/openstack.md). A type that matches is C(ok); one
    with other specs fails the task (exit 3) unless I(update).
  - Check mode is cephboot's C(--dry-run).
options:
  name:
    description: The volume type.
    type: str
    required: true
  backend:
    description: Its volume_backend_name (kolla-ansible's RBD backend is C(rbd-1)).
    type: str
    required: true
  properties:
    description: Further extra specs.
    type: dict
    default: {}
  default:
    description: Make it the project's default type.
    type: bool
    default: false
  update:
    description: Change a type that exists with other specs.
    type: bool
    default: false
extends_documentation_fragment:
  - cephboot.ceph.common
  - cephboot.ceph.common.openstack
"""
EXAMPLES = r"""
- cephboot.ceph.cinder_type:
    name: ceph
    backend: rbd-1
    default: true
    os_cloud: kolla-admin
"""
RETURN = r"""
action:
  description: created, updated, unchanged (or would_*).
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(
            name=dict(type="str", required=True),
            backend=dict(type="str", required=True),
            properties=dict(type="dict", default={}),
            default=dict(type="bool", default=False),
            update=dict(type="bool", default=False),
        ), openstack=True),
        supports_check_mode=True,
    )
    p = module.params
    args = ["cinder", "type", "ensure", p["name"], "--backend", p["backend"]]
    for k, v in sorted(p["properties"].items()):
        args += ["--property", "%s=%s" % (k, v)]
    if p["default"]:
        args.append("--default")
    if p["update"]:
        args.append("--update")
    args += cephboot.os_flags(p)
    report = cephboot.run(module, args)
    action = str(report.get("action", ""))
    module.exit_json(changed=bool(report.get("changed")) or action.startswith("would_"),
                     action=action, volume_type=report)


if __name__ == "__main__":
    main()
