#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: openstack_export
author: cephboot developers (@cephboot)
short_description: kolla-ansible's external-Ceph files, written from the cluster
description:
  - >-
    Runs C(cephboot openstack export) (docs/openstack.md): per service a minimal ceph.conf
    and the client keyrings under I(kolla_config), a globals.d fragment and magnum.conf.
  - >-
    A file cephboot did not write (or that was edited since) is never replaced without
    I(force): the task fails naming it and nothing is written.
  - Check mode is cephboot's C(--dry-run).
options:
  kolla_config:
    description: kolla-ansible's node_custom_config.
    type: path
    default: /etc/kolla/config
  globals:
    description: The globals fragment (default globals.d/cephboot.yml beside kolla_config).
    type: path
  services:
    description: glance, cinder, nova, magnum, gnocchi, manila.
    type: list
    elements: str
  volume_type:
    description: C(NAME=BACKEND) of the Cinder type (Magnum's default type, kolla's backend).
    type: str
  force:
    description: Replace files cephboot did not write.
    type: bool
    default: false
extends_documentation_fragment:
  - cephboot.ceph.common
"""
EXAMPLES = r"""
- cephboot.ceph.openstack_export:
    kolla_config: /etc/kolla/config
"""
RETURN = r"""
files:
  description: Per file, its path, mode and action.
  returned: success
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(
            kolla_config=dict(type="path", default="/etc/kolla/config"),
            globals=dict(type="path"),
            services=dict(type="list", elements="str"),
            volume_type=dict(type="str"),
            force=dict(type="bool", default=False),
        )),
        supports_check_mode=True,
    )
    p = module.params
    args = ["openstack", "export", "--kolla-config", p["kolla_config"]]
    if p["globals"]:
        args += ["--globals", p["globals"]]
    if p["services"]:
        args += ["--services", ",".join(p["services"])]
    if p["volume_type"]:
        args += ["--volume-type", p["volume_type"]]
    if p["force"]:
        args.append("--force")
    report = cephboot.run(module, args)
    files = report.get("files", [])
    result = dict(changed=cephboot.would_change(report, "files"), files=files)
    diff = cephboot.diff_of(files, lambda f: "%s %s (%s)" % (f.get("action"), f.get("path"), f.get("mode")))
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
