# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Show a long-running module's progress on the console while it runs, wherever it runs.

How: the action plugin starts the module in the background on its host exactly as the task
keyword ``async`` does (``_execute_module(wrap_async=True)``: ``async_wrapper`` daemonizes it
and writes its result to ``<async_dir>/<jid>``), and tells it, through its ``progress_file``
option, to append its progress to a file next to that one. Then, every ``progress_interval``
seconds, it runs ONE shell command on the host (a wait that ends early when the job does, then
``tail -c +OFFSET`` of the progress file and ``cat`` of the job's status file) and prints the
new lines through Ansible's ``Display``; once the status file holds the module's result, it
decodes that result as ``async_status`` would return it (the status file is what
``async_status`` reads; the decoding is the one every module result goes through) and removes
both files.

Why this way, and not another:

- ``async_wrapper`` is Ansible's own, tested way to keep a module running on a remote host
  while the controller does something else, across connection plugins (local, ssh, paramiko,
  containers), with ``become`` and in AWX (which runs ``ansible-playbook``); the module itself
  needs nothing special. Running the module synchronously in a controller thread while a second
  thread reads the file would share one connection object between two threads, which connection
  plugins do not promise to support.
- A poll is one cheap shell command (no Python started on the host, one round trip over ssh
  with ControlPersist), and the last poll already carries the result, so no second module runs
  to fetch it (running ``async_status`` for it cost about 0.4 s per task). ``tail -c +N`` reads
  only what is new, so a long run costs nothing more per poll than a short one.
- Lines are printed by the worker through ``Display``, which forwards them to the controller's
  console; AWX records them in its job output as it does every other display line.
- The final result is what ``async_status`` would return, minus the keys async adds
  (``ansible_job_id``, ``started``, ``finished``, ``results_file``), and with the task's own
  ``progress_file`` value in ``invocation``: the same as without progress except timings.

Progress is not shown (the module runs as any other) when the option ``progress`` is false, in
check mode (which copies nothing: it resolves and sends HEAD requests), when the task sets
``async`` itself, or when the connection runs modules its own way (``has_native_async``,
``always_pipeline_modules``, e.g. Windows). When the polling is interrupted (Ctrl-C, the task's
``timeout``, an AWX cancel), the plugin sends SIGTERM to the module's process (its ``pid`` is in
the ``start`` record), best effort: a run interrupted before that record was read, or whose
controller was killed outright, finishes on its host, as with ``async``.
"""

from __future__ import annotations

import json
import secrets
import shlex
import time
from collections.abc import Sequence
from typing import Any

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

from ansible_collections.airgap.mirror.plugins.plugin_utils._progress import MARKER, ProgressReader, lines_to_show, poll_command

display = Display()

#: seconds the background job may run before async_wrapper kills it (a week)
ASYNC_LIMIT = 7 * 24 * 3600

#: the keys async adds to a module's result, which a run without progress does not have
ASYNC_KEYS = ("ansible_job_id", "started", "finished", "results_file")

#: seconds the first poll waits on the host for the job to end (then a quarter as long again each
#: time, up to the interval): a long run costs a poll per interval (a poll is one shell command:
#: a wait loop of ``grep`` and ``sleep``, then ``tail``, ``printf`` and ``cat``), and the end of a
#: run is seen within a quarter second, since the wait stops when the job does (poll_command)
FIRST_POLL = 0.05
POLL_GROWTH = 1.25

#: how ``_execute_module`` decodes the output of a Python module (``ModuleMetadataV1`` default)
SERIALIZATION_PROFILE = "legacy"


class ProgressAction(ActionBase):
    """The action of a module with the options ``progress``, ``progress_interval`` and
    ``progress_file``: runs it with its progress on the console (see the module docstring).
    Subclasses set :attr:`UNIT` (what ``images_done`` counts) and may override :meth:`wanted`."""

    _supports_check_mode = True
    _supports_async = True

    #: what the records' ``images_done``/``images_total`` count, in the console lines
    UNIT = "images"

    def label(self) -> str:
        """The module's short name, which starts each console line."""
        return str(self._task.action).rsplit(".", 1)[-1]

    def wanted(self, args: dict[str, Any]) -> bool:
        """Whether the task's arguments ask for progress at all (the ``progress`` option)."""
        return boolean(args.get("progress", True), strict=False)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        del tmp  # no longer has any effect
        task_vars = task_vars or {}
        args = dict(self._task.args)
        if not self.wanted(args) or self._play_context.check_mode or self._task.async_val or \
                self._connection.has_native_async or self._connection.always_pipeline_modules:
            return self._run_plain(result, task_vars)
        try:
            interval = max(0.5, float(args.get("progress_interval", 5)))
        except (TypeError, ValueError):  # the module says what is wrong with the value
            return self._run_plain(result, task_vars)
        return merge_hash(result, self._run_with_progress(args, interval, task_vars))

    def _run_plain(self, result: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Run the module as the ``normal`` action does (honouring the task's own ``async``)."""
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    # ---------------------------------------------------------------- the background run

    def _run_with_progress(self, args: dict[str, Any], interval: float, task_vars: dict[str, Any]) -> dict[str, Any]:
        async_dir = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        own_file = not args.get("progress_file")
        if own_file:
            path = self._connection._shell.join_path(async_dir, "airgap-%s.progress" % secrets.token_hex(8))
            module_args = dict(args, progress_file=path)
            offset = 0
        else:
            path = self._remote_expand_user(str(args["progress_file"]))
            module_args = args
            offset = self._size_of(path)
        reader = ProgressReader()
        reader.offset = offset
        status_file = "/dev/null"
        try:
            started = self._start(module_args, task_vars)
            jid = started.get("ansible_job_id")
            if started.get("failed") or not jid:
                self._remove_tmp_path(self._connection._shell.tmpdir)
                return started
            status_file = self._connection._shell.join_path(async_dir, jid)
            status = self._follow(reader, path, status_file, interval)
        except BaseException:  # interrupted, timed out (the task keyword timeout): stop the module too
            self._stop_module(reader, path)
            self._clean_up([status_file] + ([path] if own_file else []))
            raise
        try:
            final = self._decode(status)
        finally:
            self._clean_up([status_file] + ([path] if own_file else []))
        for key in ASYNC_KEYS:
            final.pop(key, None)
        invocation = final.get("invocation")
        if own_file and isinstance(invocation, dict) and isinstance(invocation.get("module_args"), dict):
            invocation["module_args"]["progress_file"] = args.get("progress_file")
        return final

    def _start(self, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """Start the module under ``async_wrapper``; its answer (``ansible_job_id``...)."""
        saved = self._task.async_val
        self._task.async_val = ASYNC_LIMIT  # the wrapper's time limit; restored before anything else sees it
        try:
            started: dict[str, Any] = self._execute_module(module_args=module_args, task_vars=task_vars,
                                                           wrap_async=True)
        finally:
            self._task.async_val = saved
        return started

    def _follow(self, reader: ProgressReader, path: str, status_file: str, interval: float) -> str:
        """Print the progress until the job's status file holds its result, and return that
        file's text: each poll waits on the host for the job to end, :data:`FIRST_POLL` seconds
        at first, then :data:`POLL_GROWTH` times as long each time up to *interval*, and returns
        as soon as the job ended (so a run of any length ends nearly as soon as without progress);
        a line that an image ended is printed when read, the state every *interval* seconds."""
        label = self.label()
        pause = FIRST_POLL
        shown = time.monotonic()
        pending: list[dict[str, Any]] = []
        while True:
            new, status = self._poll(path, status_file, reader.offset, wait=pause)
            pause = min(interval, pause * POLL_GROWTH)
            pending.extend(reader.feed(new))
            finished = _finished(status)
            now = time.monotonic()
            due = now - shown >= interval - 0.05 and not finished
            lines = lines_to_show(label, pending if due else [r for r in pending if r.get("event") == "image"],
                                  self.UNIT)
            for line in lines:
                display.display(line)
            if finished:
                return status
            if due:
                shown = now
                pending = []
            else:
                pending = [r for r in pending if r.get("event") != "image"][-1:]

    def _poll(self, path: str, status_file: str, offset: int, wait: float = 0.0) -> tuple[bytes, str]:
        """(the progress file's bytes from *offset* on, the job's status file) in one command,
        which first waits on the host up to *wait* seconds for the job to end (see poll_command)."""
        res = self._low_level_execute_command(poll_command(path, status_file, offset, wait))
        # over ssh with a terminal (-tt, the ssh connection's default) every \n arrives as \r\n; the
        # file's JSON lines hold no \r of their own, so this gives back the file's bytes
        out = to_text(res.get("stdout", ""), errors="surrogate_or_strict").replace("\r\n", "\n")
        new, sep, status = out.rpartition("\n%s\n" % MARKER)
        if not sep:
            raise AnsibleError("cannot read the progress of the module on the host (rc %s): %s"
                               % (res.get("rc"), to_text(res.get("stderr", "")).strip() or out[-300:]))
        return new.encode("utf-8", "surrogateescape"), status

    def _clean_up(self, files: list[str]) -> None:
        """Remove the job's status file, the progress file of our own, and the remote temp dir."""
        self._low_level_execute_command("rm -f %s" % " ".join(shlex.quote(p) for p in files))
        self._remove_tmp_path(self._connection._shell.tmpdir)

    def _stop_module(self, reader: ProgressReader, path: str) -> None:
        """Ask the module's process (the ``pid`` of its ``start`` record) to stop; best effort."""
        try:
            if reader.pid is None:  # interrupted before the start record was read: read it now
                reader.feed(self._poll(path, "/dev/null", reader.offset)[0])
            if reader.pid is not None:
                self._low_level_execute_command("kill -TERM %d 2>/dev/null || true" % reader.pid)
        except Exception as exc:  # pylint: disable=broad-except  # the interruption is what to report
            display.warning("could not stop the module (pid %s) on its host: %s" % (reader.pid, exc))

    def _size_of(self, path: str) -> int:
        """Bytes in *path* now (0: no such file): progress lines of earlier runs are not shown."""
        res = self._low_level_execute_command("wc -c < %s 2>/dev/null || echo 0" % shlex.quote(path))
        try:
            return int(to_text(res.get("stdout", "")).split()[0])
        except (IndexError, ValueError):
            return 0

    def _decode(self, status: str) -> dict[str, Any]:
        """The module's result from the text of its status file, as ``async_status`` returns it:
        ``async_status`` prints that file's JSON, and ``_execute_module`` decodes a module's output
        with its serialization profile (every Python module's, ours and async_status's alike, is
        ``legacy``), moves a non-list ``results`` aside and drops internal keys."""
        data: dict[str, Any] = self._parse_returned_data({"stdout": status, "stderr": ""}, SERIALIZATION_PROFILE)
        if "results" in data and (not isinstance(data["results"], Sequence) or isinstance(data["results"], str)):
            data["ansible_module_results"] = data.pop("results")
        remove_internal_keys(data)
        return data


def _finished(status: str) -> bool:
    """Whether the job's status file holds its result (async_wrapper replaces the file whole:
    ``{"started": true, "finished": false}`` until the module ended)."""
    try:
        data = json.loads(status)
    except ValueError:
        return False  # not written yet
    return isinstance(data, dict) and not (data.get("started") and not data.get("finished"))
