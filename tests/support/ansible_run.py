"""Run ``ansible-playbook`` / ``ansible`` from tests and get the real module results back.

Usage::

    runner = AnsibleRunner(tmp_path)                       # or the ``ansible_run`` fixture
    res = runner.playbook(playbook_path, extra_vars={"registry": reg.host}, check=True, diff=True)
    assert res.rc == 0, res.output                         # stdout + stderr, for messages
    r = res.one("Mirror the images")                       # the single result of that task
    assert r["changed"] and r["result"]["images"][0]["digest"] == img.digest
    res.results                                            # every record, in order
    res.task("Mirror the images", host="localhost")        # all records of a task (loop items too)

    res = runner.adhoc("ansible.builtin.ping")             # ``ansible localhost -m ping``

Each record written by the test-only callback ``tests/support/callback/testbed_results.py``
is a dict: ``kind`` ("task", or "item" for one loop item), ``host``, ``task`` (name),
``action``, ``status`` (ok/failed/skipped/unreachable), ``changed``, ``failed``, ``skipped``,
``unreachable``, ``warnings`` and ``result`` (the full result dict, as callbacks see it: a task
with ``no_log`` is already censored).

Environment of the child: ``ANSIBLE_COLLECTIONS_PATH=$AIRGAP_COLLECTIONS_PATH`` (set by
tests/conftest.py, so ``airgap.mirror.*`` is this checkout), the callback enabled, no colours,
no retry files, a private ``ANSIBLE_LOCAL_TEMP``, host key checking off. The default inventory
is ``localhost`` with ``ansible_connection=local`` and
``ansible_python_interpreter={{ ansible_playbook_python }}`` (the Python running the tests).
The executables are the ones next to ``sys.executable`` (the venv's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["AnsibleRunner", "AnsibleResult", "AnsibleRunError", "CALLBACK_DIR", "run_playbook", "run_adhoc"]

CALLBACK_DIR = Path(__file__).resolve().parent / "callback"
LOCALHOST_INVENTORY = ('localhost ansible_connection=local '
                       'ansible_python_interpreter="{{ ansible_playbook_python }}"\n')


class AnsibleRunError(AssertionError):
    """A lookup on an :class:`AnsibleResult` did not find what the test expected."""


@dataclass
class AnsibleResult:
    """What one ``ansible-playbook``/``ansible`` run produced."""

    cmd: list[str]
    rc: int
    stdout: str
    stderr: str
    results: list[dict] = field(default_factory=list)

    @property
    def output(self) -> str:
        """stdout and stderr together (use it as the assertion message)."""
        return f"$ {' '.join(self.cmd)}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def task(self, name: str, host: str | None = None, *, items: bool = False) -> list[dict]:
        """Records of the task called ``name`` (optionally on ``host``); ``items=True`` returns
        the per-item records of a loop instead of the task's final record."""
        kind = "item" if items else "task"
        return [r for r in self.results
                if r["task"] == name and r["kind"] == kind and (host is None or r["host"] == host)]

    def one(self, name: str, host: str | None = None) -> dict:
        """The single final record of task ``name`` (on ``host``); raises listing what ran."""
        found = self.task(name, host)
        if len(found) != 1:
            ran = sorted({f"{r['host']}: {r['task']}" for r in self.results if r["kind"] == "task"})
            raise AnsibleRunError(f"expected one result for task {name!r}"
                                  f"{f' on {host}' if host else ''}, got {len(found)}; tasks that ran: {ran}\n"
                                  f"{self.output}")
        return found[0]

    @property
    def changed(self) -> list[dict]:
        """Final records with ``changed: true``."""
        return [r for r in self.results if r["kind"] == "task" and r["changed"]]

    @property
    def failed(self) -> list[dict]:
        """Final records that failed or were unreachable."""
        return [r for r in self.results if r["kind"] == "task" and (r["failed"] or r["unreachable"])]


class AnsibleRunner:
    """Runs Ansible with the test bed's environment; files go under ``workdir``.

    :param workdir: a directory for inventories, temp files and result files (created).
    :param env: extra environment for every run (merged over the defaults).
    """

    def __init__(self, workdir: os.PathLike | str, env: Mapping[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env or {})
        self._runs = 0

    def playbook(self, playbook: os.PathLike | str, *, inventory: os.PathLike | str | None = None,
                 extra_vars: Mapping | None = None, check: bool = False, diff: bool = False,
                 verbosity: int = 0, limit: str | None = None, tags: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, extra_args: Sequence[str] = (),
                 cwd: os.PathLike | str | None = None, timeout: float = 900) -> AnsibleResult:
        """``ansible-playbook PLAYBOOK`` (``--check``, ``--diff``, ``-v…``, ``-l``, ``-t``).

        ``extra_vars`` is passed as JSON (``-e @file``) so types survive. ``playbook`` may also be
        playbook text (a string containing a newline), written to a file first.
        """
        if isinstance(playbook, str) and "\n" in playbook:
            path = self._next_file("playbook", ".yml")
            path.write_text(playbook)
            playbook = path
        args = self._common(inventory, extra_vars, check, diff, verbosity, limit)
        if tags:
            args.append("--tags=" + ",".join(tags))
        return self._run("ansible-playbook", [*args, *extra_args, str(playbook)], env, cwd, timeout)

    def adhoc(self, module: str, module_args: str | Mapping | None = None, *, pattern: str = "localhost",
              inventory: os.PathLike | str | None = None, extra_vars: Mapping | None = None,
              check: bool = False, diff: bool = False, verbosity: int = 0,
              env: Mapping[str, str] | None = None, extra_args: Sequence[str] = (),
              cwd: os.PathLike | str | None = None, timeout: float = 300) -> AnsibleResult:
        """``ansible PATTERN -m MODULE -a ARGS`` (``module_args`` as k=v text or a dict → JSON)."""
        args = self._common(inventory, extra_vars, check, diff, verbosity, None)
        args += ["-m", module]
        if module_args is not None:
            args += ["-a", module_args if isinstance(module_args, str) else json.dumps(dict(module_args))]
        return self._run("ansible", [pattern, *args, *extra_args], env, cwd, timeout)

    # -- internals ------------------------------------------------------------------------------

    def _next_file(self, stem: str, suffix: str) -> Path:
        self._runs += 1
        return self.workdir / f"{stem}-{self._runs}{suffix}"

    def _common(self, inventory, extra_vars, check, diff, verbosity, limit) -> list[str]:
        if inventory is None:
            inventory = self.workdir / "localhost.ini"
            if not inventory.exists():
                inventory.write_text(LOCALHOST_INVENTORY)
        args = ["-i", str(inventory)]
        if extra_vars:
            path = self._next_file("extra-vars", ".json")
            path.write_text(json.dumps(dict(extra_vars)))
            os.chmod(path, 0o600)
            args += ["-e", f"@{path}"]
        if check:
            args.append("--check")
        if diff:
            args.append("--diff")
        if verbosity:
            args.append("-" + "v" * verbosity)
        if limit:
            args += ["--limit", limit]
        return args

    def _executable(self, name: str) -> str:
        path = Path(sys.executable).parent / name
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: install ansible-core into the Python running the tests "
                                    f"({sys.executable})")
        return str(path)

    def _env(self, results: Path, extra: Mapping[str, str] | None) -> dict:
        collections = os.environ.get("AIRGAP_COLLECTIONS_PATH")
        if not collections:
            raise RuntimeError("AIRGAP_COLLECTIONS_PATH is not set; run the tests through pytest "
                               "(tests/conftest.py sets it)")
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": collections,
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": "testbed_results",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",  # ad-hoc ``ansible`` loads callbacks only with this
            "AIRGAP_TESTBED_RESULTS": str(results),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-tmp"),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.env)
        env.update(extra or {})
        return env

    def _run(self, program: str, args: list[str], env, cwd, timeout) -> AnsibleResult:
        results = self._next_file("results", ".jsonl")
        cmd = [self._executable(program), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self._env(results, env),
                              cwd=str(cwd or self.workdir), timeout=timeout, check=False)
        records = []
        if results.exists():
            records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        return AnsibleResult(cmd, proc.returncode, proc.stdout, proc.stderr, records)


def run_playbook(playbook, workdir: os.PathLike | str | None = None, **kwargs) -> AnsibleResult:
    """One-shot :meth:`AnsibleRunner.playbook` (``workdir`` defaults to a new temp dir)."""
    return AnsibleRunner(workdir or tempfile.mkdtemp(prefix="airgap-ansible-")).playbook(playbook, **kwargs)


def run_adhoc(module: str, module_args=None, workdir: os.PathLike | str | None = None, **kwargs) -> AnsibleResult:
    """One-shot :meth:`AnsibleRunner.adhoc`."""
    return AnsibleRunner(workdir or tempfile.mkdtemp(prefix="airgap-ansible-")).adhoc(module, module_args, **kwargs)
