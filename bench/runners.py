"""Running the two tools on the test bed: skopeo loops (bash scripts, private blob-info cache) and
ansible-playbook running ``airgap.mirror.image_mirror``; each run measured (wall, CPU, RSS) and,
through :meth:`Runner.accounted`, what it cost the registries."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import TIME_BIN, BenchError, Run, RssSampler, log, parse_time_v, quote, run_measured, tail
from pyspy import summarize_profile
from testbed import ROOT, SYSTEM_BLOB_CACHE, Reg, Testbed

CALLBACK_DIR = ROOT / "tests" / "support" / "callback"
RESULTS_DIR = ROOT / "bench" / "results"
MODULE_FILE = "AnsiballZ_image_mirror.py"
TASK_NAME = "image_mirror"

Accounted = dict[str, Any]  # {"res": a Run, "stats": {side: registry stats}, and what a phase adds}


class Runner:
    """Runs and measures the tools; ``profile`` ("cpu", "wall" or None) runs the module under py-spy."""

    def __init__(self, bed: Testbed, profile: str | None) -> None:
        self.bed = bed
        self.profile = profile
        self.py_spy = str(Path(sys.executable).parent / "py-spy")
        self.profile_dir = RESULTS_DIR / "profiles" / datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
        if profile:
            if not Path(self.py_spy).exists():
                raise BenchError("--profile needs py-spy in the venv: %s -m pip install py-spy" % sys.executable)
            self.profile_dir.mkdir(parents=True, exist_ok=True)

    def skopeo_run(self, name: str, script: Path) -> Run:
        """Run a bash loop of skopeo commands with a fresh, private blob-info cache."""
        work = self.bed.work
        cache = work / "skopeo-cache" / name
        if cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}
        cmd = ["unshare", "--mount", "--propagation", "private", "bash", "-c",
               'mount --bind "$1" %s && exec bash "$2"' % SYSTEM_BLOB_CACHE, "bench-skopeo", str(cache), str(script)]
        res = run_measured(cmd, env=env, cwd=str(work), out_dir=work / "out", name=name)
        cache_file = cache / "blob-info-cache-v1.boltdb"
        res["blob_cache"] = {"dir": str(cache), "bytes": cache_file.stat().st_size if cache_file.exists() else 0}
        res["peak_rss_mib"] = round(res["tree_maxrss_kb"] / 1024, 1)
        return res

    def _interpreter(self, rundir: Path, name: str) -> tuple[Path, Path | None]:
        """The module's interpreter: a wrapper running python under /usr/bin/time -v (and py-spy)."""
        time_file = rundir / "module.time"
        wrapper = rundir / "python"
        profile = None
        spy = ""
        if self.profile:
            profile = self.profile_dir / ("%s.collapsed" % name)
            spy = "%s record --format raw --rate 200 %s--output %s -- " % (
                quote(self.py_spy), "--idle " if self.profile == "wall" else "", quote(profile))
        wrapper.write_text("#!/bin/sh\n# the module's interpreter, under /usr/bin/time -v (peak RSS of this process)\n"
                           "exec %s -v -o %s %s%s \"$@\"\n" % (TIME_BIN, quote(time_file), spy,
                                                               quote(self.bed.python)), encoding="utf-8")
        wrapper.chmod(0o755)
        return wrapper, profile

    def _env(self, results: Path) -> dict[str, str]:
        work = self.bed.work
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.bed.collections),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": "testbed_results",
            "AIRGAP_TESTBED_RESULTS": str(results),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCAL_TEMP": str(work / "ansible-local"),
            "ANSIBLE_REMOTE_TMP": str(work / "ansible-remote"),
            "ANSIBLE_HOME": str(work / "ansible-home"),
        })
        return env

    def module_run(self, name: str, args: dict[str, Any]) -> Run:
        """ansible-playbook running airgap.mirror.image_mirror with ``args`` on localhost."""
        rundir = self.bed.work / "runs" / name
        rundir.mkdir(parents=True, exist_ok=True)
        wrapper, profile = self._interpreter(rundir, name)
        inventory = rundir / "inventory.ini"
        inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % wrapper,
                             encoding="utf-8")
        playbook = rundir / "playbook.yml"
        play = [{"name": "airgap.mirror benchmark", "hosts": "localhost", "gather_facts": False,
                 "tasks": [{"name": TASK_NAME, "airgap.mirror.image_mirror": args}]}]
        playbook.write_text(json.dumps(play, indent=2) + "\n", encoding="utf-8")
        results = rundir / "results.jsonl"
        sampler = RssSampler([MODULE_FILE, str(self.bed.work / "ansible-remote")])
        res = run_measured([self.bed.ansible_playbook, "-i", str(inventory), str(playbook)], env=self._env(results),
                           cwd=str(rundir), out_dir=rundir, name="ansible-playbook", sampler=sampler)
        res["module_time"] = parse_time_v(rundir / "module.time")
        if profile is not None and profile.exists():
            res["profile"] = str(profile)
            log("    py-spy profile (%s) %s; top leaf frames:" % (self.profile, profile))
            for line in summarize_profile(profile):
                log("      " + line)
        res["vmhwm_mib"] = round(sampler.hwm_kb / 1024, 1) if sampler.hwm_kb else None
        res["vmhwm_samples"] = sampler.samples
        res["module_pid"] = sampler.pid
        result = None
        if results.exists():
            for line in results.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                if record.get("task") == TASK_NAME and record.get("kind") == "task":
                    result = record
        res["result"] = result["result"] if result else None
        res["status"] = result["status"] if result else "missing"
        if res["rc"] != 0 or res["status"] != "ok":
            msg = (res["result"] or {}).get("msg") if res["result"] else None
            raise BenchError("%s: ansible-playbook rc=%s, task %s: %s\n%s" % (
                name, res["rc"], res["status"], msg, tail(res["stdout"])))
        return res

    def accounted(self, run: Callable[[], Run], reg: Reg | None = None, source: bool = True) -> Accounted:
        """``run()`` between the registries' accounting marks: {"res": its result, "stats": the
        requests and CPU of the source (if *source*) and of *reg*}."""
        sides = ([("source", self.bed.src)] if source else []) + ([("dest", reg)] if reg is not None else [])
        for _side, r in sides:
            r.begin()
        res = run()
        return {"res": res, "stats": {side: r.end() for side, r in sides}}

    def skopeo_loop(self, tag: str, wl_name: str, script: Path, reg: Reg | None = None,
                    source: bool = True) -> Accounted:
        out = self.accounted(lambda: self.skopeo_run("%s-%s-skopeo" % (wl_name, tag), script), reg, source)
        res = out["res"]
        if res["rc"] != 0:
            raise BenchError("skopeo loop %s %s failed (rc %s):\n%s" % (wl_name, tag, res["rc"], tail(res["stderr"])))
        return out

    def ours_run(self, tag: str, wl_name: str, args: dict[str, Any], reg: Reg | None = None,
                 source: bool = True) -> Accounted:
        return self.accounted(lambda: self.module_run("%s-%s-ours" % (wl_name, tag), args), reg, source)

    def seed(self, listing: Path) -> Run:
        """Push every listed image into the source registry with skopeo (private blob cache)."""
        script = self.bed.script("seed", """
while read -r src dst; do
  skopeo copy --all --quiet --preserve-digests --dest-tls-verify=false "${src}" "docker://${dst}"
done < %s
""" % quote(listing))
        res = self.skopeo_run("seed", script)
        if res["rc"] != 0:
            raise BenchError("seeding the source registry with skopeo failed:\n%s" % tail(res["stderr"]))
        return res
