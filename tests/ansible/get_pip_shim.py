# Stand-in for pypa's get-pip.py, which ansible-test downloads from ci-files.testing.ansible.com
# to put pip into each sanity test's virtual environment. That host is not reachable from the
# test machines (only package registries are): pip comes from the interpreter's own ensurepip
# instead, then the pip version asked for from PyPI. tests/ansible.rs puts this file where
# ansible-test caches the script.
# Apache-2.0
import ensurepip
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
wanted = [a for a in sys.argv[1:] if not a.startswith("-")]
if wanted:
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + wanted
    )
