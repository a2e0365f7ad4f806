# A stdout callback for tests/ansible.rs: prints one JSON document when the playbook ends,
# {"plays": [{"tasks": [{"task": {"name"}, "hosts": {HOST: RESULT}}]}], "stats": {HOST:
# {"ok", "changed", "failures", "unreachable", "skipped"}}}. (ansible-core alone has no JSON
# callback: that one lives in the ansible.posix collection.)
# Apache-2.0

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: results_json
type: stdout
short_description: every task's result per host and the play recap, as one JSON document
description: For tests; see tests/ansible.rs.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "results_json"

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({"play": {"name": play.get_name()}, "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self.plays:
            self.plays[-1]["tasks"].append({"task": {"name": task.get_name()}, "hosts": {}})

    def _record(self, result, **extra):
        if self.plays and self.plays[-1]["tasks"]:
            r = dict(result._result)
            r.update(extra)
            self.plays[-1]["tasks"][-1]["hosts"][result._host.get_name()] = r

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = {h: stats.summarize(h) for h in sorted(stats.processed.keys())}
        print(json.dumps({"plays": self.plays, "stats": summary}, default=str))
