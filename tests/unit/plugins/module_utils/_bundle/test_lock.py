"""Concurrent runs: the bundle's lock and the layout's index lock, with real second processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout

from .helpers import refs, pack


def python(code, *args):
    """A real second process running *code* (with this checkout importable), pipes on stdin/stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


HOLD_INDEX_LOCK = """
import fcntl, os, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), exist_ok=True)
handle = open(path, "a")  # what another process's set_refs holds while it rewrites index.json
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


LAYOUT_CALL = """
import sys
from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
layout = Layout(sys.argv[1])
if sys.argv[2] == "cleanup":
    layout.cleanup_state()
else:
    layout.set_refs([(sys.argv[2], manifest.Descriptor(manifest.OCI_MANIFEST, sys.argv[3], int(sys.argv[4])))])
print("done", flush=True)
"""


def test_layout_cleanup_never_lets_two_processes_rewrite_index_json_at_once(source, tmp_path):
    """A run that finishes (cleanup_state) while another process rewrites index.json under the
    layout's lock must not remove that lock: before, it unlinked ``.airgap-state/index.lock`` and a
    third process's set_refs locked a new file and ran alongside the holder (a lost update)."""
    layout, images = source
    pack(layout, tmp_path / "b")
    unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    out = Layout(str(tmp_path / "out"))
    lock = out.state_dir("index.lock")
    holder = python(HOLD_INDEX_LOCK, lock)
    assert holder.stdout.readline() == "held\n"
    image = images["large"]
    cleanup = python(LAYOUT_CALL, out.path, "cleanup")
    with contextlib.suppress(subprocess.TimeoutExpired):
        cleanup.wait(timeout=1.5)  # it must wait for the holder; before, it removed the lock at once
    writer = python(LAYOUT_CALL, out.path, "example.com/renamed:1", image.digest, image.size)
    try:
        time.sleep(1.5)
        assert writer.poll() is None, "set_refs ran while another process held the index.json lock: %s" % (
            writer.communicate(timeout=5),)
        assert cleanup.poll() is None and os.path.exists(lock)
    finally:
        holder.communicate("go\n", timeout=10)
        for process in (cleanup, writer):
            out_text, err = process.communicate(timeout=30)
            assert process.returncode == 0 and out_text == "done\n", err
    assert refs(out.path)["example.com/renamed:1"] == image.digest


def test_the_bundle_lock_leaves_no_file_behind(source, tmp_path):
    layout, _images = source
    pack(layout, tmp_path / "b")
    verify(str(tmp_path / "b"))
    unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    pack(layout, tmp_path / "b", check_mode=True)
    assert sorted(n for n in os.listdir(tmp_path / "b") if not n.startswith("images.tar.")) == [
        "images.bundle.json", "images.sha256"]
