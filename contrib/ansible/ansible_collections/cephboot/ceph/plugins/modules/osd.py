#!/usr/bin/python
# Apache-2.0
DOCUMENTATION = r"""
module: osd
author: cephboot developers (@cephboot)
short_description: Prepare disks as Ceph OSDs and start them, with cephboot
description:
  - I(state=prepared) runs C(cephboot osd prepare) on I(devices) (or every disk carrying a
    Kolla bootstrap label with I(all_bootstrap)); an OSD already prepared is C(unchanged).
    Refusals (a mounted disk, data on a sibling partition without I(wipe), a label for the
    other store) fail the task with cephboot's reason; other devices are still prepared.
  - I(state=started) runs C(cephboot osd activate) for every prepared OSD of this host
    (or I(id)); running OSDs are C(unchanged).
  - >-
    I(state=absent) runs C(cephboot osd remove) of OSD I(id): only once Ceph says its data
    is safe elsewhere (waiting up to I(wait) seconds for it to move), else the task fails
    with Ceph's reason and nothing is changed (exit 3). With I(keep_id) the id and CRUSH
    position are kept for its replacement (I(state=prepared) with I(osd_id)). A removed OSD
    is C(ok).
  - Check mode is cephboot's C(--dry-run).
options:
  state:
    description: C(prepared), C(started) or C(absent).
    type: str
    choices: [prepared, started, absent]
    default: prepared
  devices:
    description: Disks or partitions to prepare (state=prepared).
    type: list
    elements: str
    default: []
  all_bootstrap:
    description: Every disk with a bootstrap label (state=prepared).
    type: bool
    default: false
  store:
    description: C(bluestore) or C(filestore); default what the label says.
    type: str
  db:
    description: Device for block.db (bluestore).
    type: str
  db_slots:
    description: Divide the I(db) disk into this many slots, one block.db per OSD.
    type: int
  db_size:
    description: Like I(db_slots), with slots of this size (e.g. C(30G)).
    type: str
  wal_slots:
    description: Divide the I(wal) disk into this many slots, one block.wal per OSD.
    type: int
  wal_slot_size:
    description: Like I(wal_slots), with slots of this size (e.g. C(2G)).
    type: str
  device_class:
    description: CRUSH device class of the new OSDs instead of the one sysfs suggests.
    type: str
  crush_location:
    description: C(host=NAME) to put the new OSDs under host bucket NAME.
    type: str
  wal:
    description: Device for block.wal (bluestore).
    type: str
  journal:
    description: Device for the journal (filestore).
    type: str
  wipe:
    description: Also erase sibling partitions that hold data (C(--wipe)).
    type: bool
    default: false
  encrypt:
    description: >-
      Encrypt each new BlueStore OSD (C(--encrypt)): block, block.db and block.wal
      LUKS2 under one key kept in the monitors (docs/encryption.md).
    type: bool
    default: false
  tpm2:
    description: >-
      With I(encrypt), also enroll a TPM 2.0 keyslot on each device (C(--tpm2)), so the
      OSD starts at boot with the monitors unreachable.
    type: bool
    default: false
  tpm2_pcrs:
    description: The PCRs the TPM 2.0 keyslot is bound to (C(--tpm2-pcrs), e.g. C(7) or C(0+7)).
    type: str
    default: "7"
  id:
    description: Only this OSD (state=started); the OSD to remove (state=absent).
    type: int
  osd_id:
    description: >-
      Take the id and CRUSH position of this destroyed OSD (state=prepared, one
      device): the replacement of an OSD removed with I(keep_id).
    type: int
  keep_id:
    description: Destroy instead of purge, keeping the id for a replacement (state=absent).
    type: bool
    default: false
  wait:
    description: Seconds to wait for Ceph's yes that the OSD's data has moved (state=absent).
    type: int
extends_documentation_fragment:
  - cephboot.ceph.common
"""
EXAMPLES = r"""
- name: Every Kolla-labelled disk becomes an OSD
  cephboot.ceph.osd:
    all_bootstrap: true
- name: Start them
  cephboot.ceph.osd:
    state: started
"""
RETURN = r"""
osds:
  description: Per device (prepared) or per OSD (started), cephboot's report.
  returned: state is prepared or started
  type: list
remove:
  description: cephboot's removal report (action, each step with Ceph's answers, disks
    zapped, slots freed or kept).
  returned: state is absent
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cephboot.ceph.plugins.module_utils import cephboot


def main():
    module = AnsibleModule(
        argument_spec=cephboot.argument_spec(dict(
            state=dict(type="str", choices=["prepared", "started", "absent"], default="prepared"),
            devices=dict(type="list", elements="str", default=[]),
            all_bootstrap=dict(type="bool", default=False),
            store=dict(type="str"),
            db=dict(type="str"),
            wal=dict(type="str"),
            journal=dict(type="str"),
            db_slots=dict(type="int"),
            db_size=dict(type="str"),
            wal_slots=dict(type="int"),
            wal_slot_size=dict(type="str"),
            device_class=dict(type="str"),
            crush_location=dict(type="str"),
            wipe=dict(type="bool", default=False),
            encrypt=dict(type="bool", default=False),
            tpm2=dict(type="bool", default=False),
            tpm2_pcrs=dict(type="str", default="7"),
            id=dict(type="int"),
            osd_id=dict(type="int"),
            keep_id=dict(type="bool", default=False),
            wait=dict(type="int"),
        )),
        supports_check_mode=True,
        required_if=[("state", "absent", ("id",))],
    )
    p = module.params
    if p["state"] == "prepared":
        if not p["devices"] and not p["all_bootstrap"]:
            module.fail_json(msg="name devices or set all_bootstrap")
        args = ["osd", "prepare"] + p["devices"]
        if p["all_bootstrap"]:
            args.append("--all-bootstrap")
        for key in ("store", "db", "wal", "journal", "db_size", "wal_slot_size", "device_class",
                    "crush_location"):
            if p[key]:
                args += ["--" + key.replace("_", "-"), p[key]]
        for key in ("db_slots", "wal_slots"):
            if p[key] is not None:
                args += ["--" + key.replace("_", "-"), str(p[key])]
        if p["wipe"]:
            args.append("--wipe")
        if p["encrypt"]:
            args.append("--encrypt")
        if p["tpm2"]:
            args += ["--tpm2", "--tpm2-pcrs", p["tpm2_pcrs"]]
        if p["osd_id"] is not None:
            args += ["--osd-id", str(p["osd_id"])]
    elif p["state"] == "absent":
        args = ["osd", "remove", str(p["id"])]
        if p["keep_id"]:
            args.append("--keep-id")
        if p["wait"] is not None:
            args += ["--wait", str(p["wait"])]
    else:
        args = ["osd", "activate"] + ([str(p["id"])] if p["id"] is not None else ["--all"])
    report = cephboot.run(module, args)
    if p["state"] == "absent":
        action = str(report.get("action", ""))
        module.exit_json(changed=bool(report.get("changed")) or action.startswith("would_"),
                         remove=report)
    osds = report.get("osds", [])
    result = dict(changed=cephboot.would_change(report, "osds"), osds=osds)
    diff = cephboot.diff_of(osds, lambda o: "%s: %s" % (
        o.get("device") or "osd.%s" % o.get("osd_id"), o.get("action")))
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
