# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Show a long-running module's progress on the console while it runs, wherever it runs.

How: the action plugin runs the module on its host the way ansible-core runs any module
(``_execute_module``: the same AnsiballZ file, interpreter, environment and ``become``), with two
changes for that one call: the module file is always transferred (no pipelining: a background
run cannot read it from the connection's standard input), and the command that runs it is wrapped
so that it starts in the background and returns at once (:func:`launch_command`: ``nohup``, its
output, error and exit status to files in the async directory). The module is told, through its
``progress_file`` option, to append its progress to a file there too. Then, every
``progress_interval`` seconds, the plugin runs ONE shell command on the host (a wait that ends
early when the job does, then ``tail -c +OFFSET`` of the progress file and, once the job ended,
its exit status, output and error) and prints the new lines through Ansible's ``Display``; the
module's output is then decoded exactly as ``_execute_module`` decodes it, and the files removed.

Why this way, and not another:

- The module runs as every module runs, so its result is the one it gives without progress
  (interpreter discovery's facts included), across connection plugins (local, ssh, paramiko,
  containers), with ``become`` and in AWX (which runs ``ansible-playbook``). Running the module
  synchronously in a controller thread while a second thread reads the file would share one
  connection object between two threads, which connection plugins do not promise to support.
- Ansible's ``async`` (``async_wrapper``) would do the backgrounding too, and did here before: it
  cost about 0.4 s per task (building and starting a second module, which daemonizes and waits
  for the first), against one shell command for :func:`launch_command`.
- A poll is one cheap shell command (no Python started on the host, one round trip over ssh
  with ControlPersist), and the last poll already carries the result, so nothing else runs to
  fetch it. ``tail -c +N`` reads only what is new, so a long run costs nothing more per poll than
  a short one.
- Lines are printed by the worker through ``Display``, which forwards them to the controller's
  console; AWX records them in its job output as it does every other display line.

Progress is not shown (the module runs as any other) when the option ``progress`` is false, in
check mode (which copies nothing: it resolves and sends HEAD requests), when the task sets
``async`` itself, or when the connection runs modules its own way (``has_native_async``,
``always_pipeline_modules``, e.g. Windows). When the polling is interrupted (Ctrl-C, the task's
``timeout``, an AWX cancel), the plugin sends SIGTERM to the module's process (its ``pid`` is in
the ``start`` record), best effort: a run interrupted before that record was read, or whose
controller was killed outright, finishes on its host, as with ``async``.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import time
from collections.abc import Iterator, Sequence
from typing import Any, Union

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

from ansible_collections.airgap.mirror.plugins.plugin_utils._progress import (
    Job, JobLost, ProgressReader, launch_command, lines_to_show, poll_command, split_poll)

display = Display()

#: seconds the first poll waits on the host for the job to end (then a quarter as long again each
#: time, up to the interval): a long run costs a poll per interval (a poll is one shell command:
#: a wait loop of ``test`` and ``sleep``, then ``tail``, ``printf`` and ``cat``), and the end of a
#: run is seen within a quarter second, since the wait stops when the job does (poll_command)
FIRST_POLL = 0.05
POLL_GROWTH = 1.25

#: how ``_execute_module`` decodes the output of a Python module (``ModuleMetadataV1`` default)
SERIALIZATION_PROFILE = "legacy"

#: what a module's output, error and exit status are decoded from: (rc, stdout, stderr)
Ended = tuple[Union[int, None], str, str]


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
        job = Job(async_dir, secrets.token_hex(8))
        own_file = not args.get("progress_file")
        if own_file:
            path = job.progress
            module_args = dict(args, progress_file=path)
            offset = 0
        else:
            path = self._remote_expand_user(str(args["progress_file"]))
            module_args = args
            offset = self._size_of(path)
        reader = ProgressReader()
        reader.offset = offset
        files = job.files() + ([path] if own_file else [])
        try:
            started = self._start(module_args, task_vars, job)
            if started.get("failed") or not started.get("airgap_started"):
                self._clean_up(files)
                if not started.get("failed"):
                    started = dict(started, failed=True,
                                   msg="the module did not start in the background on its host: %s" % started)
                return started
            ended = self._follow(reader, path, job, interval)
        except JobLost as exc:
            self._clean_up(files)
            return {"failed": True, "msg": str(exc)}
        except BaseException:  # interrupted, timed out (the task keyword timeout): stop the module too
            self._stop_module(reader, path, job)
            self._clean_up(files)
            raise
        try:
            final = self._decode(ended)
        finally:
            self._clean_up(files)
        if started.get("ansible_facts"):  # interpreter discovery, reported on the start as on any run
            final["ansible_facts"] = merge_hash(started["ansible_facts"], final.get("ansible_facts") or {})
        invocation = final.get("invocation")
        if own_file and isinstance(invocation, dict) and isinstance(invocation.get("module_args"), dict):
            invocation["module_args"]["progress_file"] = args.get("progress_file")
        return final

    def _start(self, module_args: dict[str, Any], task_vars: dict[str, Any], job: Job) -> dict[str, Any]:
        """Run the module as ``_execute_module`` does, but from a file on the host (no pipelining)
        and in the background (:func:`launch_command` wraps the command that runs it); the answer
        of that command (``_progress.STARTED``, decoded, or why it could not start)."""
        shell = self._connection._shell
        build = shell.build_module_command

        def in_background(env_string: str, shebang: str, cmd: str, arg_path: str | None = None) -> str:
            return launch_command(build(env_string, shebang, cmd, arg_path=arg_path), job)

        with _swapped(self, "_is_pipelining_enabled", lambda *_args, **_kwargs: False), \
                _swapped(shell, "build_module_command", in_background):
            started: dict[str, Any] = self._execute_module(module_args=module_args, task_vars=task_vars)
        return started

    def _follow(self, reader: ProgressReader, path: str, job: Job, interval: float) -> Ended:
        """Print the progress until the job ended, and return its (exit status, output, error):
        each poll waits on the host for the job to end, :data:`FIRST_POLL` seconds at first, then
        :data:`POLL_GROWTH` times as long each time up to *interval*, and returns as soon as the
        job ended (so a run of any length ends nearly as soon as without progress); a line that an
        image ended is printed when read, the state every *interval* seconds."""
        label = self.label()
        pause = FIRST_POLL
        shown = time.monotonic()
        pending: list[dict[str, Any]] = []
        while True:
            new, ended = self._poll(path, job, reader.offset, wait=pause)
            pause = min(interval, pause * POLL_GROWTH)
            pending.extend(reader.feed(new))
            now = time.monotonic()
            due = now - shown >= interval - 0.05 and ended is None
            lines = lines_to_show(label, pending if due else [r for r in pending if r.get("event") == "image"],
                                  self.UNIT)
            for line in lines:
                display.display(line)
            if ended is not None:
                return ended
            if due:
                shown = now
                pending = []
            else:
                pending = [r for r in pending if r.get("event") != "image"][-1:]

    def _poll(self, path: str, job: Job, offset: int, wait: float = 0.0) -> tuple[bytes, Ended | None]:
        """(the progress file's bytes from *offset* on, the job's (exit status, output, error)
        once it ended) in one command, which first waits on the host up to *wait* seconds for the
        job to end (see poll_command)."""
        res = self._low_level_execute_command(poll_command(path, job, offset, wait))
        # over ssh with a terminal (-tt, the ssh connection's default) every \n arrives as \r\n; the
        # file's JSON lines hold no \r of their own, so this gives back the file's bytes
        out = to_text(res.get("stdout", ""), errors="surrogate_or_strict").replace("\r\n", "\n")
        polled = split_poll(out, job)
        if polled is None:
            raise AnsibleError("cannot read the progress of the module on the host (rc %s): %s"
                               % (res.get("rc"), to_text(res.get("stderr", "")).strip() or out[-300:]))
        return polled

    def _clean_up(self, files: list[str]) -> None:
        """Remove the job's files, the progress file of our own, and the remote temp dir."""
        self._low_level_execute_command("rm -f %s" % " ".join(shlex.quote(p) for p in files))
        self._remove_tmp_path(self._connection._shell.tmpdir)

    def _stop_module(self, reader: ProgressReader, path: str, job: Job) -> None:
        """Ask the module's process (the ``pid`` of its ``start`` record) to stop; best effort."""
        try:
            if reader.pid is None:  # interrupted before the start record was read: read it now
                reader.feed(self._poll(path, job, reader.offset)[0])
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

    def _decode(self, ended: Ended) -> dict[str, Any]:
        """The module's result from its exit status, output and error, decoded as
        ``_execute_module`` decodes them (the serialization profile of every Python module, ours
        included, is ``legacy``): a non-list ``results`` moved aside, internal keys dropped."""
        rc, stdout, stderr = ended
        res = {"rc": rc, "stdout": stdout, "stdout_lines": stdout.splitlines(),
               "stderr": stderr, "stderr_lines": stderr.splitlines()}
        data: dict[str, Any] = self._parse_returned_data(res, SERIALIZATION_PROFILE)
        if data.pop("_ansible_suppress_tmpdir_delete", False):
            self._cleanup_remote_tmp = False
        if "results" in data and (not isinstance(data["results"], Sequence) or isinstance(data["results"], str)):
            data["ansible_module_results"] = data.pop("results")
            display.warning("Found internal 'results' key in module return, renamed to 'ansible_module_results'.")
        remove_internal_keys(data)
        return data


@contextlib.contextmanager
def _swapped(owner: object, name: str, value: Any) -> Iterator[None]:
    """*owner*'s attribute *name* is *value* inside the block (an instance attribute over its
    class's method), and what it was after it."""
    had = name in vars(owner)
    before = vars(owner).get(name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if had:
            setattr(owner, name, before)
        else:
            delattr(owner, name)
