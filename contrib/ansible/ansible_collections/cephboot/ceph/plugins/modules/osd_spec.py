#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: osd_spec
author: cephboot developers (@cephboot)
short_description: Prepare the OSDs a cephadm OSD service spec selects, with cephboot
description:
  - >-
    Runs C(cephboot osd apply SPEC). The spec is cephadm's (C(service_type: osd),
    C(data_devices), C(db_devices), C(db_slots), C(size), C(limit), ...); each OSD goes
    through C(cephboot osd prepare) with its guards, so a disk holding anything is never
    taken. See docs/spec.md.
  - >-
    Check mode is cephboot's C(--dry-run): the plan, and every disk not taken with the
    reason (C(not_taken)). A rerun is C(ok).
options:
  spec:
    description: The spec file on the managed host (YAML; one or several documents).
    type: path
    required: true
  host_labels:
    description: This host's labels, for specs placed by C(label) (C(--host-label)).
    type: list
    elements: str
    default: []
  allow_devices:
    description: Consider only devices matching these patterns (C(--allow-device)).
    type: list
    elements: str
    default: []
  deny_devices:
    description: Never consider devices matching these patterns (C(--deny-device)).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - cephboot.ceph.common
"""
EXAMPLES = r"""
- name: Every HDD as an OSD with its block.db on the NVMe, four per NVMe
  cephboot.ceph.osd_spec:
    spec: /etc/cephboot/osds.yml
"""
RETURN = r"""
osds:
  description: Each OSD of the plan and what became of it (C(spec), C(data), C(db), C(wal),
    C(action), C(osd_id), C(reason)).
  returned: success
  type: list
not_taken:
  description: Each disk a spec for this host did not take, with the reason.
  returned: success
  type: list
specs:
  description: Each spec, whether it applies here, and the OSDs it already has.
  returned: success
  type: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(
            spec=dict(type="path", required=True),
            host_labels=dict(type="list", elements="str", default=[]),
            allow_devices=dict(type="list", elements="str", default=[]),
            deny_devices=dict(type="list", elements="str", default=[]),
        )),
        supports_check_mode=True,
    )
    p = module.params
    args = ["osd", "apply", p["spec"]]
    for flag, key in (("--host-label", "host_labels"), ("--allow-device", "allow_devices"),
                      ("--deny-device", "deny_devices")):
        for v in p[key]:
            args += [flag, v]
    report = cephboot.run(module, args)
    result = dict(
        changed=cephboot.would_change(report, "osds"),
        osds=report.get("osds", []),
        not_taken=report.get("not_taken", []),
        specs=report.get("specs", []),
    )
    diff = cephboot.diff_of(result["osds"], lambda o: "%s: %s (spec %s)" % (o.get("data"), o.get("action"), o.get("spec")))
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
