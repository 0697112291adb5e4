"""The progress of a module on a remote host reaches ``ansible-playbook`` over ssh (issue 16):
``airgap.mirror.transfer_bundle`` (standard library only, so it runs on the bed's plain Debian
hosts) packs a layout on a host reached over ssh; its action plugin starts it in the background
there, reads its progress file there, prints a line per part written, and returns the same result
as without progress, leaving no file behind in the host's async directory. The interpreter is
discovered (``auto_silent``) for each of the two runs, and the background run reports what it
found as a plain run does (``ansible_facts.discovered_interpreter_python``)."""

from __future__ import annotations

import json
import os

import pytest

from support import images
from support.ansible_run import AnsibleRunner

pytestmark = [pytest.mark.integration, pytest.mark.hosts]

VOLATILE = ("seconds", "bytes_per_second", "peak_rss_bytes", "free")


def _stable(value, old: str, new: str):
    if isinstance(value, dict):
        return {k: _stable(v, old, new) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v, old, new) for v in value]
    if isinstance(value, str):
        return value.replace(old, new)
    return value


def test_transfer_bundle_progress_over_ssh(debian_hosts, tmp_path):
    bed = debian_hosts(1, "prog")
    layout = images.OCILayout(tmp_path / "oci")
    images.build_image(layout, "example.com/progress:1", layers=[{"random.bin": os.urandom(600_000)}])
    pack = {"action": "pack", "layout": "/root/oci", "part_size": "128K", "progress_interval": 0.5}
    forget = {"name": "forget the interpreter", "ansible.builtin.meta": "clear_facts"}  # discovered again
    tasks = [
        {"name": "layout", "ansible.builtin.copy": {"src": str(tmp_path / "oci") + "/", "dest": "/root/oci/"}},
        forget,
        {"name": "with progress", "airgap.mirror.transfer_bundle": dict(pack, bundle="/root/b1")},
        forget,
        {"name": "without progress", "airgap.mirror.transfer_bundle": dict(pack, bundle="/root/b2", progress=False)},
    ]
    plays = [{"name": "pack", "hosts": "prog1", "gather_facts": False,
              "vars": {"ansible_python_interpreter": "auto_silent"}, "tasks": tasks}]
    runner = AnsibleRunner(tmp_path / "ansible")
    res = runner.playbook(json.dumps(plays, indent=1) + "\n", inventory=bed.inventory, env=bed.ansible_env())
    assert res.rc == 0, res.output
    with_progress = res.one("with progress")["result"]
    without = res.one("without progress")["result"]
    discovered = with_progress.get("ansible_facts", {}).get("discovered_interpreter_python")
    assert isinstance(discovered, str) and discovered.startswith("/usr/bin/python3"), with_progress
    parts = [p["name"] for p in with_progress["parts"]]
    assert len(parts) > 3, with_progress
    lines = [line for line in res.stdout.splitlines() if line.startswith("transfer_bundle: ")]
    for n, part in enumerate(parts, 1):
        assert any(line.startswith("transfer_bundle: written %s, %d/%d parts, " % (part, n, len(parts)))
                   for line in lines), res.output
    section = res.stdout.split("TASK [without progress]")[1]
    assert "transfer_bundle: " not in section, res.output

    with_progress["invocation"]["module_args"].pop("progress")
    without["invocation"]["module_args"].pop("progress")
    assert _stable(with_progress, "/root/b1", "B") == _stable(without, "/root/b2", "B")
    left = bed.exec("prog1", "sh", "-c", "ls -A /root/.ansible_async 2>/dev/null || true").stdout
    assert left.strip() == "", left
