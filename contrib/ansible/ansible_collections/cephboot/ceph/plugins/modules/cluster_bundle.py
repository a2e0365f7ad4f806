#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: cluster_bundle
author: cephboot developers (@cephboot)
short_description: What another host needs to join this host's Ceph cluster, as a secret value
description:
  - >-
    Runs C(cephboot cluster join-bundle) into a private temporary file, returns its contents
    as I(bundle) and removes the file: nothing is left on the host.
  - >-
    The bundle holds the cluster's admin key. Register the result in a task marked
    C(no_log: true) and hand it to M(cephboot.ceph.cluster) on the other hosts through
    C(hostvars) in a task also marked C(no_log: true); never print it.
  - Changes nothing (C(changed) is always false); runs in check mode too, so that a checked
    play can show what the joins would do.
options: {}
extends_documentation_fragment:
  - cephboot.ceph.common
"""
EXAMPLES = r"""
- name: What the others need to join
  cephboot.ceph.cluster_bundle:
  register: cephboot_bundle
  no_log: true
"""
RETURN = r"""
bundle:
  description: The bundle's contents (JSON text). Secret.
  returned: success
  type: str
fsid:
  description: The cluster's fsid.
  returned: success
  type: str
mon_host:
  description: The monitor addresses the bundle names.
  returned: success
  type: str
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict()),
        supports_check_mode=True,
    )
    private = tempfile.mkdtemp(prefix="cephboot-bundle-")
    try:
        os.chmod(private, 0o700)
        path = os.path.join(private, "bundle.json")
        report = cephboot.run(module, ["cluster", "join-bundle", "--out", path], dry_run=False)
        with open(path) as f:
            bundle = f.read()
    finally:
        shutil.rmtree(private, ignore_errors=True)
    module.exit_json(
        changed=False,
        bundle=bundle,
        fsid=report.get("fsid", ""),
        mon_host=report.get("mon_host", ""),
    )


if __name__ == "__main__":
    main()
