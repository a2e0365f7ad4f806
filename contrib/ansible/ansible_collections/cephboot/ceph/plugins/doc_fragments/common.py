# Apache-2.0
# The options every cephboot.ceph module takes (cephboot's global flags), and the OpenStack
# credentials of the modules that talk to Cinder.


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  binary:
    description: The cephboot binary.
    type: path
    default: cephboot
  state_dir:
    description: cephboot's state dir (C(--state-dir)); cephboot's default when unset.
    type: path
  conf:
    description: The Ceph configuration file (C(--conf)).
    type: path
  cluster:
    description: The Ceph cluster name (C(--cluster)).
    type: str
  ceph_name:
    description: The Ceph client name cephboot connects as (C(--name)).
    type: str
  keyring:
    description: That client's keyring (C(--keyring)).
    type: path
  timeout:
    description: Seconds cephboot waits for the cluster (C(--timeout)).
    type: int
  label_prefix:
    description: The bootstrap label prefix (C(--label-prefix), Kolla's is C(KOLLA_CEPH)).
    type: str
"""

    OPENSTACK = r"""
options:
  os_cloud:
    description: A cloud of clouds.yaml (C(--os-cloud)).
    type: str
  os_client_config_file:
    description: The clouds.yaml to read (C(--os-client-config-file)).
    type: path
  os_auth_type:
    description: C(password), C(token) or C(none) (C(--os-auth-type)).
    type: str
  os_endpoint:
    description: Cinder's endpoint, with I(os_auth_type=none) (C(--os-endpoint)).
    type: str
  os_region_name:
    description: The region (C(--os-region-name)).
    type: str
"""
