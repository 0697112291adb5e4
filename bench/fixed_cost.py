"""The fixed cost of one module task, for one or more checkouts of the collection, side by side.

A script that prints measurements, not a test (it asserts nothing). For each ``--tree`` (a
checkout of airgap.mirror, e.g. an old commit's worktree and this one) and each module, in the
same run and with the same venv and ansible-core:

- **payload**: what ansible-core sends for one task: the AnsiballZ file's size, the zip's size,
  and how many module_utils files it holds (the recursive finder follows every import of the
  module and of each file it includes, imports inside functions too, plus every package
  ``__init__.py`` on the way);
- **build**: CPU seconds of ``module_common.modify_module`` building that payload with an empty
  AnsiballZ cache (once per module per ``ansible-playbook`` run, on the controller);
- **module**: CPU seconds (user + system) and wall seconds of the module process of one task,
  running the AnsiballZ file a real ad-hoc ``ansible`` run kept (``ANSIBLE_KEEP_REMOTE_FILES``),
  so the arguments are exactly those ansible-core passes. For ``image_mirror`` the task is a
  no-op: one image from an OCI layout into a layout that has it already (``progress: false``
  where the tree has the option: the module process alone, without the action's background run).
  With ``--registry`` the destination is a repository of a loopback ``docker-registry`` instead
  (the no-op then asks the registry, over HTTP, whether it has the image: a task that loads the
  HTTP stack, as every task with a registry does; one between layouts does not).
  For the other modules the task passes one unknown option, so the module imports everything,
  builds its ``AnsibleModule`` and fails on the arguments: its start-up cost.

The runs alternate between the trees and the figures are medians over ``--runs``. ``--imports N``
also prints, per tree, the N slowest imports of one module process (``python -X importtime``,
cumulative microseconds) and the total of the collection's own modules.

Usage (from the checkout)::

    .venv/bin/python bench/fixed_cost.py --tree /work/wt/old13 --tree .
    .venv/bin/python bench/fixed_cost.py --tree OLD --tree . --module image_mirror --module transfer_bundle
    .venv/bin/python bench/fixed_cost.py --tree OLD --tree . --runs 15 --imports 15 --files
    .venv/bin/python bench/fixed_cost.py --tree OLD --tree . --registry   # the no-op into a registry
"""

from __future__ import annotations

import argparse
import ast
import base64
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import images as I  # noqa: E402
from support.registry import Registry  # noqa: E402
from testbed import collection_shim  # noqa: E402

BIN = Path(sys.executable).parent
IMAGE = "quay.io/org/app:1"

# Run in a child process per tree (the plugin loader is global): build the payload `rounds`
# times with an empty cache, after one warm-up build; print the CPU times and the payload.
_BUILD = r"""
import json, os, shutil, sys, time
coll, name, args, rounds = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
from ansible import constants as C
from ansible.executor import module_common
from ansible.plugins.loader import init_plugin_loader, module_loader
from ansible.template import Templar
init_plugin_loader([coll])
path = module_loader.find_plugin(name)
task_vars = {"ansible_playbook_python": sys.executable, "ansible_python_interpreter": sys.executable}
cpu = []
for n in range(rounds + 1):
    shutil.rmtree(os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache"), ignore_errors=True)
    started = time.process_time()
    built = module_common.modify_module(
        module_name=name, module_path=path, module_args=args, templar=Templar(loader=None),
        task_vars=task_vars, module_compression="ZIP_DEFLATED", async_timeout=0, become_plugin=None,
        environment={}, remote_is_local=True)
    if n:
        cpu.append(time.process_time() - started)
sys.stdout.write(json.dumps({"cpu": cpu, "payload": built.b_module_data.decode()}))
"""


def options_of(module: Path) -> set[str]:
    """The option names in a module's DOCUMENTATION."""
    import yaml  # pylint: disable=import-outside-toplevel  # from ansible-core's venv

    tree = ast.parse(module.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            return set((yaml.safe_load(ast.literal_eval(node.value)) or {}).get("options", {}))
    return set()


class Tree:
    """One checkout, reachable as ``ansible_collections.airgap.mirror`` under its own path."""

    def __init__(self, path: str, work: Path, number: int, registry: str | None = None) -> None:
        self.path = Path(path).resolve()
        self.label = "%d:%s" % (number, self.path.name)
        self.work = work / ("tree%d" % number)
        self.coll = collection_shim(self.path, self.work / "coll")
        self.kept: dict[str, Path] = {}
        self.registry = registry

    def args(self, module: str, src: Path) -> dict[str, object]:
        """The task's arguments: a no-op for image_mirror, one unknown option for the others."""
        if module != "image_mirror":
            return {"fixed_cost_probe": 1}
        dest = "%s/%s" % (self.registry, self.work.name) if self.registry else "oci:%s" % (self.work / "dest")
        args: dict[str, object] = {"src": "oci:%s" % src, "images": [IMAGE], "dest": dest}
        if self.registry:
            args["insecure_registries"] = [self.registry]
        if "progress" in options_of(self.path / "plugins" / "modules" / "image_mirror.py"):
            args["progress"] = False
        return args

    def keep_payload(self, module: str, src: Path) -> None:
        """Run the task once with ``ansible`` and keep its AnsiballZ file."""
        tmp = self.work / ("remote-" + module)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(self.coll), ANSIBLE_KEEP_REMOTE_FILES="1",
                   ANSIBLE_REMOTE_TMP=str(tmp), ANSIBLE_LOCAL_TEMP=str(self.work / "local"),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_LOAD_CALLBACK_PLUGINS="0")
        cmd = [str(BIN / "ansible"), "localhost", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
               "-m", "airgap.mirror." + module, "-a", json.dumps(self.args(module, src))]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        found = sorted(tmp.glob("ansible-tmp-*/AnsiballZ_%s.py" % module))
        if not found:
            raise SystemExit("%s: no AnsiballZ file kept:\n%s%s" % (self.label, done.stdout, done.stderr))
        self.kept[module] = found[-1]

    def build(self, module: str, src: Path, rounds: int) -> tuple[list[float], bytes]:
        """CPU seconds of each build, and the payload."""
        out = subprocess.run([sys.executable, "-c", _BUILD, str(self.coll), "airgap.mirror." + module,
                              json.dumps(self.args(module, src)), str(rounds)],
                             env=dict(os.environ, ANSIBLE_LOCAL_TEMP=str(self.work / "build")),
                             capture_output=True, text=True, check=True).stdout
        built = json.loads(out)
        return built["cpu"], built["payload"].encode()

    def run_module(self, module: str) -> tuple[float, float, dict]:
        """CPU and wall seconds of one module process, and its result."""
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(self.kept[module])], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, cwd=self.work)
        out = proc.stdout.read() if proc.stdout else b""
        _pid, _status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        if proc.stdout:
            proc.stdout.close()
        proc.returncode = 0
        try:
            result = json.loads(out[out.index(b"{"):])
        except ValueError:
            result = {"failed": True, "msg": out.decode(errors="replace")[-400:]}
        return usage.ru_utime + usage.ru_stime, wall, result

    def imports(self, module: str) -> list[tuple[int, int, str]]:
        """(self us, cumulative us, name) of each import of one module process."""
        done = subprocess.run([sys.executable, "-X", "importtime", str(self.kept[module])], capture_output=True,
                              text=True, cwd=self.work, check=False)
        rows = []
        for line in done.stderr.splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if found:
                rows.append((int(found.group(1)), int(found.group(2)), found.group(4)))
        return rows


def zip_files(payload: bytes) -> list[tuple[str, int]]:
    """(name, uncompressed size) of each file in an AnsiballZ payload's zip."""
    found = re.search(rb"zip_data='([A-Za-z0-9+/=]+)'", payload) or re.search(rb"([A-Za-z0-9+/=]{1000,})", payload)
    if not found:
        return []
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(found.group(1))))
    return [(info.filename, info.file_size) for info in archive.infolist()]


def collection_files(files: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The collection's module_utils files of a payload, by their path under ``plugins/``."""
    marker = "airgap/mirror/plugins/"
    return sorted((name.split(marker, 1)[1], size) for name, size in files if marker + "module_utils/" in name)


def report_module(module: str, trees: list[Tree], src: Path, runs: int, show_files: bool) -> None:
    """Measure one module in every tree and print the rows."""
    for tree in trees:
        tree.keep_payload(module, src)
    builds: dict[str, list[float]] = {t.label: [] for t in trees}
    payloads: dict[str, bytes] = {}
    cpu: dict[str, list[float]] = {t.label: [] for t in trees}
    wall: dict[str, list[float]] = {t.label: [] for t in trees}
    rounds = max(1, runs // 3)
    for n in range(runs):
        order = trees if n % 2 == 0 else trees[::-1]
        for tree in order:
            if n < 3:
                times, payloads[tree.label] = tree.build(module, src, rounds)
                builds[tree.label].extend(times)
            seconds, elapsed, result = tree.run_module(module)
            if module == "image_mirror" and (result.get("failed") or result.get("changed")):
                raise SystemExit("%s: the no-op task was not a no-op: %s" % (tree.label, result.get("msg", result)))
            cpu[tree.label].append(seconds)
            wall[tree.label].append(elapsed)
    where = " into a registry" if module == "image_mirror" and trees[0].registry else ""
    print("\n## %s%s (%d module runs per tree, %d builds)" % (module, where, runs, len(builds[trees[0].label])))
    print("%-24s %10s %9s %8s %11s %11s %12s" % ("tree", "payload", "zip", "mu files", "mu source",
                                                 "build CPU", "module CPU"))
    for tree in trees:
        files = zip_files(payloads[tree.label])
        ours = collection_files(files)
        zipped = len(base64.b64decode(re.search(rb"zip_data='([A-Za-z0-9+/=]+)'", payloads[tree.label]).group(1))) \
            if b"zip_data='" in payloads[tree.label] else 0
        print("%-24s %7.0f KB %6.0f KB %8d %8.0f KB %9.3f s %10.3f s   (wall %.3f s; CPU range %.3f-%.3f)" % (
            tree.label, len(payloads[tree.label]) / 1024, zipped / 1024, len(ours),
            sum(size for _name, size in ours) / 1024, statistics.median(builds[tree.label]),
            statistics.median(cpu[tree.label]), statistics.median(wall[tree.label]),
            min(cpu[tree.label]), max(cpu[tree.label])))
        if show_files:
            for name, size in ours:
                print("    %7d  %s" % (size, name))


def report_imports(module: str, trees: list[Tree], top: int) -> None:
    """The slowest imports of one module process per tree."""
    for tree in trees:
        rows = tree.imports(module)
        ours = [r for r in rows if r[2].startswith("ansible_collections.airgap.mirror")]
        print("\n## imports of %s in %s: %d modules, %.1f ms self time; the collection's own: %d, %.1f ms"
              % (module, tree.label, len(rows), sum(r[0] for r in rows) / 1000, len(ours),
                 sum(r[0] for r in ours) / 1000))
        for self_us, cumulative, name in sorted(rows, key=lambda r: -r[1])[:top]:
            print("  %8.1f ms cumulative %7.1f ms self  %s" % (cumulative / 1000, self_us / 1000, name))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="a checkout (repeat; default: this one)")
    parser.add_argument("--module", action="append", default=[], help="a module (repeat; default image_mirror)")
    parser.add_argument("--runs", type=int, default=9, help="module runs per tree (default 9)")
    parser.add_argument("--imports", type=int, default=0, metavar="N", help="print the N slowest imports")
    parser.add_argument("--files", action="store_true", help="list the module_utils files of each payload")
    parser.add_argument("--registry", action="store_true", help="image_mirror's no-op into a loopback registry")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="airgap-fixed-cost-") as tmp:
        work = Path(tmp)
        layout = I.OCILayout(work / "src")
        I.build_image(layout, IMAGE, layers=[{"a": "1"}])
        registry = Registry(work / "registry").start() if args.registry else None
        trees = [Tree(path, work, n + 1, registry.host if registry else None)
                 for n, path in enumerate(args.tree or [str(ROOT)])]
        try:
            version = subprocess.run([str(BIN / "ansible"), "--version"], capture_output=True, text=True,
                                     check=False).stdout.splitlines()[0]
            print("python %s, %s" % (sys.version.split()[0], version))
            for module in args.module or ["image_mirror"]:
                report_module(module, trees, work / "src", args.runs, args.files)
                if args.imports:
                    report_imports(module, trees, args.imports)
        finally:
            if registry:
                registry.stop()


if __name__ == "__main__":
    main()
