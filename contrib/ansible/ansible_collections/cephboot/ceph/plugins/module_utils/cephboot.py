# Shared by the cephboot.ceph modules: options every module takes, running cephboot with
# --format json, and turning its report into Ansible's result. Only the standard library
# and Ansible's module_utils: modules run on the managed host.
# Apache-2.0

import json

# Options every module accepts (cephboot's global flags).
COMMON_ARGS = dict(
    binary=dict(type="path", default="cephboot"),
    state_dir=dict(type="path"),
    conf=dict(type="path"),
    cluster=dict(type="str"),
    ceph_name=dict(type="str"),
    keyring=dict(type="path", no_log=False),
    timeout=dict(type="int"),
    label_prefix=dict(type="str"),
)

# OpenStack credentials, as cephboot (and the openstack CLI) take them.
OS_ARGS = dict(
    os_cloud=dict(type="str"),
    os_client_config_file=dict(type="path"),
    os_auth_type=dict(type="str"),
    os_endpoint=dict(type="str"),
    os_region_name=dict(type="str"),
)


def argument_spec(own, openstack=False):
    spec = dict(COMMON_ARGS)
    if openstack:
        spec.update(OS_ARGS)
    spec.update(own)
    return spec


def _global_flags(params):
    flags = []
    for key, flag in (
        ("state_dir", "--state-dir"),
        ("conf", "--conf"),
        ("cluster", "--cluster"),
        ("ceph_name", "--name"),
        ("keyring", "--keyring"),
        ("timeout", "--timeout"),
        ("label_prefix", "--label-prefix"),
    ):
        if params.get(key) is not None:
            flags += [flag, str(params[key])]
    return flags


def os_flags(params):
    flags = []
    for key in OS_ARGS:
        if params.get(key) is not None:
            flags += ["--" + key.replace("_", "-"), str(params[key])]
    return flags


def _last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def _message(report, stderr):
    if isinstance(report, dict) and isinstance(report.get("error"), dict):
        return report["error"].get("message") or ""
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    for line in reversed(lines):
        if line.startswith("cephboot: error: "):
            return line[len("cephboot: error: "):]
    return lines[-1] if lines else "cephboot failed without a message"


def run(module, args, dry_run=True):
    """Runs cephboot ARGS --format json (and --dry-run in check mode when the command has
    one); returns its report, or fails the task with cephboot's words and exit code."""
    params = module.params
    cmd = [params["binary"]] + _global_flags(params) + list(args) + ["--format", "json"]
    if module.check_mode and dry_run:
        cmd.append("--dry-run")
    rc, out, err = module.run_command(cmd, environ_update={"CEPHBOOT_LOG": "cephboot=warn"})
    report = _last_json(out)
    if rc != 0:
        module.fail_json(
            msg="cephboot: " + _message(report, err),
            rc=rc,
            cmd=cmd,
            cephboot=report,
            stderr=err,
        )
    if report is None:
        module.fail_json(msg="cephboot printed no JSON report", rc=rc, cmd=cmd, stdout=out, stderr=err)
    return report


def would_change(report, items_key):
    """A dry run reports `would_*` actions and changed=false: that is a change in check mode."""
    if report.get("changed"):
        return True
    return any(
        str(item.get("action", "")).startswith("would_")
        for item in report.get(items_key) or []
        if isinstance(item, dict)
    )


def diff_of(items, describe):
    """Ansible's diff: the changed items, one line each, as `after` (`before` is empty:
    cephboot reports actions, not old values)."""
    lines = [describe(i) for i in items if isinstance(i, dict)
             and str(i.get("action", "")) not in ("unchanged", "")]
    if not lines:
        return None
    return {"before": "", "after": "\n".join(lines) + "\n"}
