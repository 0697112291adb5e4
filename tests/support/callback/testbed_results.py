# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only callback: every task result as one JSON line (used by tests/support/ansible_run.py).

Not part of the collection; enabled by ``ANSIBLE_CALLBACK_PLUGINS=<this dir>`` and
``ANSIBLE_CALLBACKS_ENABLED=testbed_results``; the output file is ``$AIRGAP_TESTBED_RESULTS``.
"""

from __future__ import annotations

DOCUMENTATION = """
name: testbed_results
type: notification
short_description: write each task result as a JSON line (airgap.mirror test bed only)
description:
  - Appends one JSON object per task result (and per loop item) to the file named by the
    environment variable C(AIRGAP_TESTBED_RESULTS).
requirements:
  - enabled in callbacks_enabled
"""

import json
import os

from ansible.plugins.callback import CallbackBase


def _default(value):
    return str(value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "testbed_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("AIRGAP_TESTBED_RESULTS")

    def _write(self, record):
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=_default, sort_keys=True) + "\n")

    def _record(self, result, status, kind="task"):
        data = getattr(result, "result", None)
        if data is None:  # ansible-core < 2.19
            data = result._result
        task = result.task if hasattr(result, "task") else result._task
        host = result.host if hasattr(result, "host") else result._host
        warnings = [getattr(getattr(w, "event", None), "msg", None) or str(w)
                    for w in (getattr(result, "warnings", None) or [])]
        self._write({
            "kind": kind,
            "host": host.get_name(),
            "task": task.get_name(),
            "action": task.action,
            "status": status,
            "changed": bool(data.get("changed", False)),
            "failed": status == "failed",
            "skipped": status == "skipped",
            "unreachable": status == "unreachable",
            "warnings": warnings,
            "result": dict(data),
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_item_on_ok(self, result):
        self._record(result, "ok", kind="item")

    def v2_runner_item_on_failed(self, result):
        self._record(result, "failed", kind="item")

    def v2_runner_item_on_skipped(self, result):
        self._record(result, "skipped", kind="item")
