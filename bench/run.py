"""Benchmark: airgap.mirror.image_mirror (run by ansible-playbook) against the seed's skopeo loops.

A script that prints measurements, not a test. One run starts one source registry (seeded with
skopeo, never with our engine), builds the workloads of ``bench/workloads.py`` and, for every
measurement, gives each tool a fresh destination (registry or directory) so runs never help each
other. skopeo's blob-info cache (``/var/lib/containers/cache/blob-info-cache-v1.boltdb`` for root;
skopeo 1.9 has no flag or variable to move it) is replaced, for every skopeo run, by a fresh
empty directory bind-mounted over ``/var/lib/containers/cache`` in a private mount namespace
(``unshare --mount``): no hidden help from earlier runs, and the machine's own cache is untouched.

Usage (from the checkout, with the venv's Python; needs root)::

    .venv/bin/python bench/run.py                 # everything (about 5 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick         # small sizes: a smoke run (about 1-2 minutes)
    .venv/bin/python bench/run.py --only a,c      # some workloads
    .venv/bin/python bench/run.py --sweep 2,4,8   # concurrency values for the sweep ("" skips it)

Prints a table per phase and a final table (workload, ours, skopeo, ratio, target, pass/fail,
unique bytes), and writes everything as JSON to ``bench/results/`` (gitignored). Exit status: 0
when every copy was correct (targets missed are reported, not fatal), 1 when a copy failed or a
verification found a wrong digest. See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import workloads as W  # noqa: E402
from support.registry import Registry  # noqa: E402

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
TIME_BIN = "/usr/bin/time"
SYSTEM_BLOB_CACHE = Path("/var/lib/containers/cache")
CALLBACK_DIR = ROOT / "tests" / "support" / "callback"
RESULTS_DIR = ROOT / "bench" / "results"
MODULE_FILE = "AnsiballZ_image_mirror.py"
TASK_NAME = "image_mirror"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_ACCESS_RE = re.compile(r'^\S+ \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) '
                        r'(?P<size>\d+|-)')

TARGETS = {
    "a r->r": 0.5,
    "a r->disk": 0.4,
    "a disk->r": 0.8,
    "b r->r": 0.25,
    "b r->r no-op": 0.15,
    "layout/unique": 1.02,
    "peak RSS MiB": 120,
}


def log(msg=""):
    print(msg, flush=True)


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------------- processes

class RssSampler(threading.Thread):
    """Samples VmHWM/VmRSS of the python process running the AnsiballZ module (found by its
    command line) every ``interval`` seconds until it exits."""

    def __init__(self, markers, interval=0.05):
        super().__init__(daemon=True)
        self.markers = [m.encode() for m in markers]
        self.interval = interval
        self.pid = None
        self.hwm_kb = 0
        self.samples = 0
        self._halt = threading.Event()

    def stop(self):
        self._halt.set()
        self.join(5)

    def _find(self):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    argv = handle.read().split(b"\0")
            except OSError:
                continue
            if all(any(m in a for a in argv) for m in self.markers) and b"python" in os.path.basename(argv[0]):
                return int(entry)
        return None

    def run(self):
        while not self._halt.is_set():
            if self.pid is None:
                self.pid = self._find()
                if self.pid is None:
                    self._halt.wait(self.interval)
                    continue
            try:
                with open("/proc/%d/status" % self.pid) as handle:
                    status = handle.read()
            except OSError:
                return  # exited
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if match:
                self.hwm_kb = max(self.hwm_kb, int(match.group(1)))
                self.samples += 1
            self._halt.wait(self.interval)


def run_measured(cmd, *, env=None, cwd=None, out_dir, name, sampler=None, timeout=3600):
    """Run ``cmd``; return wall seconds, rc, output files and the rusage of the whole process tree."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = out_dir / ("%s.stdout" % name), out_dir / ("%s.stderr" % name)
    load = os.getloadavg()[0]
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        if sampler is not None:
            sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if sampler is not None:
        sampler.stop()
    return {
        "cmd": [str(c) for c in cmd],
        "wall": wall,
        "load_before": load,
        "rc": proc.returncode,
        "cpu_user": usage.ru_utime,
        "cpu_sys": usage.ru_stime,
        "tree_maxrss_kb": usage.ru_maxrss,
        "stdout": stdout_path,
        "stderr": stderr_path,
    }


def proc_cpu(pid):
    """user+system CPU seconds of a running process (for the registries)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, TypeError):
        return 0.0


def tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(missing)"


# --------------------------------------------------------------------------------- registries

class Reg:
    """A Registry plus access-log accounting (requests by kind, bytes served)."""

    def __init__(self, workdir):
        # configured as Debian's packaged /etc/docker/registry/config.yml does (the in-memory blob
        # descriptor cache), with warnings only in the application log; the access log stays on
        # because the benchmark counts requests from it
        self.registry = Registry(workdir, extra_config={
            "log": {"level": "warn"}, "storage": {"cache": {"blobdescriptor": "inmemory"}}}).start()
        self._offset = 0
        self._cpu = 0.0

    @property
    def host(self):
        return self.registry.host

    def begin(self):
        self.registry.mark()  # flushes the access log
        self._offset = self.registry.access_log.stat().st_size
        self._cpu = proc_cpu(self.registry.pid)

    def end(self):
        self.registry.mark()
        cpu = proc_cpu(self.registry.pid) - self._cpu
        with open(self.registry.access_log, "rb") as handle:
            handle.seek(self._offset)
            text = handle.read().decode(errors="replace")
        stats = {"requests": 0, "blob_get_bytes": 0, "blob_gets": 0, "blob_heads": 0, "manifest_gets": 0,
                 "manifest_heads": 0, "manifest_puts": 0, "uploads_started": 0, "upload_patches": 0,
                 "uploads_finished": 0, "mounts": 0, "cpu_seconds": round(cpu, 2)}
        for line in text.splitlines():
            match = _ACCESS_RE.match(line)
            if not match or "airgap-testbed-flush" in match["path"]:
                continue
            method, path, status = match["method"], match["path"], int(match["status"])
            size = int(match["size"]) if match["size"] != "-" else 0
            stats["requests"] += 1
            if "/blobs/uploads/" in path:
                if method == "POST" and "mount=" in path and status == 201:
                    stats["mounts"] += 1
                elif method == "POST":
                    stats["uploads_started"] += 1
                elif method == "PATCH":
                    stats["upload_patches"] += 1
                elif method == "PUT" and status == 201:
                    stats["uploads_finished"] += 1
            elif "/blobs/" in path:
                if method == "GET":
                    stats["blob_gets"] += 1
                    stats["blob_get_bytes"] += size
                elif method == "HEAD":
                    stats["blob_heads"] += 1
            elif "/manifests/" in path:
                key = {"GET": "manifest_gets", "HEAD": "manifest_heads", "PUT": "manifest_puts"}.get(method)
                if key:
                    stats[key] += 1
        return stats

    def storage_bytes(self):
        return tree_size(self.registry.storage)[0]

    def drop(self):
        self.registry.stop()
        shutil.rmtree(self.registry.workdir, ignore_errors=True)

    def head(self, path):
        req = urllib.request.Request(self.registry.url + path, method="HEAD", headers={"Accept": ", ".join([
            "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json"])})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers)


def tree_size(path):
    """(apparent bytes, allocated bytes, files) of every regular file under ``path``."""
    apparent = allocated = files = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            if not os.path.islink(os.path.join(dirpath, name)):
                apparent += st.st_size
                allocated += st.st_blocks * 512
                files += 1
    return apparent, allocated, files


# --------------------------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.specs = W.QUICK if args.quick else W.FULL
        self.work = Path(args.workdir or tempfile.mkdtemp(prefix="airgap-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.python = sys.executable
        self.ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
        self.rows = []          # the final table
        self.sweep = {}         # workload -> {concurrency: record}
        self.records = {}       # every measurement, by name
        self.problems = []      # wrong digests, failed runs
        self.fixed_cost = None  # ansible-playbook + module start with nothing to do (median seconds)
        self.workloads = {}
        self.regs = []
        self.counter = 0
        self.src = None
        self.started = time.monotonic()
        self.py_spy = str(Path(sys.executable).parent / "py-spy")
        self.profile_dir = RESULTS_DIR / "profiles" / datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
        if args.profile:
            if not Path(self.py_spy).exists():
                raise BenchError("--profile needs py-spy in the venv: %s -m pip install py-spy" % sys.executable)
            self.profile_dir.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- setup

    def check_tools(self):
        missing = [p for p in (SKOPEO, TIME_BIN, "/usr/bin/docker-registry", self.ansible_playbook)
                   if not Path(p).exists()]
        if shutil.which("unshare") is None:
            missing.append("unshare (util-linux)")
        if missing:
            raise BenchError("missing: %s" % ", ".join(missing))
        if os.geteuid() != 0:
            raise BenchError("run as root: skopeo's blob-info cache is redirected with unshare --mount + bind mount")
        SYSTEM_BLOB_CACHE.mkdir(parents=True, exist_ok=True)  # where skopeo (root) would create it anyway

    def setup(self):
        shim = self.work / "collections" / "ansible_collections" / "airgap"
        shim.mkdir(parents=True, exist_ok=True)
        if not (shim / "mirror").exists():
            os.symlink(ROOT, shim / "mirror")
        self.collections = self.work / "collections"
        self.src = self.new_registry("source")

    def new_registry(self, name):
        self.counter += 1
        reg = Reg(self.work / "registries" / ("%02d-%s" % (self.counter, name)))
        self.regs.append(reg)
        return reg

    def drop(self, reg):
        reg.drop()
        if reg in self.regs:
            self.regs.remove(reg)

    def close(self):
        for reg in list(self.regs):
            reg.drop()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def generate(self, names):
        t0 = time.monotonic()
        for name in names:
            self.workloads[name] = W.build(name, self.specs[name], self.work / "gen" / name)
            wl = self.workloads[name]
            log("  %s" % wl.describe())
            log("     layers: %s, layer media type %s (tar of pseudo-random bytes)"
                % (", ".join("%d %s" % (n, role) for role, n in wl.layers.items()), W.LAYER_MEDIA_TYPE))
        return time.monotonic() - t0

    def seed(self, names):
        """Push every workload image into the source registry with skopeo (private blob cache)."""
        lines = []
        for name in names:
            wl = self.workloads[name]
            for item in wl.images:
                lines.append("%s %s/%s:%s" % (item.image.oci_ref, self.src.host, item.repo, item.tag))
        listing = self.work / "seed.list"
        listing.write_text("\n".join(lines) + "\n")
        script = self.script("seed", """
while read -r src dst; do
  skopeo copy --all --quiet --preserve-digests --dest-tls-verify=false "${src}" "docker://${dst}"
done < %s
""" % _q(listing))
        res = self.skopeo_run("seed", script)
        if res["rc"] != 0:
            raise BenchError("seeding the source registry with skopeo failed:\n%s" % tail(res["stderr"]))
        for name in names:  # every image is there with its digest
            for item in self.workloads[name].images:
                status, headers = self.src.head("/v2/%s/manifests/%s" % (item.repo, item.tag))
                if status != 200 or headers.get("Docker-Content-Digest") != item.digest:
                    raise BenchError("seeded %s:%s has %s (HTTP %s), expected %s" % (
                        item.repo, item.tag, headers.get("Docker-Content-Digest"), status, item.digest))
        return res["wall"]

    # ---------------------------------------------------------------- runners

    def script(self, name, body):
        path = self.work / "scripts" / ("%s.sh" % name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/bash\nset -euo pipefail\n" + body.lstrip("\n"))
        return path

    def skopeo_run(self, name, script):
        """Run a bash loop of skopeo commands with a fresh, private blob-info cache."""
        cache = self.work / "skopeo-cache" / name
        if cache.exists():
            shutil.rmtree(cache)
        cache.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}
        cmd = ["unshare", "--mount", "--propagation", "private", "bash", "-c",
               'mount --bind "$1" %s && exec bash "$2"' % SYSTEM_BLOB_CACHE, "bench-skopeo", str(cache), str(script)]
        res = run_measured(cmd, env=env, cwd=str(self.work), out_dir=self.work / "out", name=name)
        cache_file = cache / "blob-info-cache-v1.boltdb"
        res["blob_cache"] = {"dir": str(cache), "bytes": cache_file.stat().st_size if cache_file.exists() else 0}
        res["peak_rss_mib"] = round(res["tree_maxrss_kb"] / 1024, 1)
        return res

    def module_run(self, name, args):
        """ansible-playbook running airgap.mirror.image_mirror with ``args`` on localhost."""
        rundir = self.work / "runs" / name
        rundir.mkdir(parents=True, exist_ok=True)
        time_file = rundir / "module.time"
        wrapper = rundir / "python"
        profile = None
        spy = ""
        if self.args.profile:
            profile = self.profile_dir / ("%s.collapsed" % name)
            spy = "%s record --format raw --rate 200 %s--output %s -- " % (
                _q(self.py_spy), "--idle " if self.args.profile == "wall" else "", _q(profile))
        wrapper.write_text("#!/bin/sh\n# the module's interpreter, under /usr/bin/time -v (peak RSS of this process)\n"
                           "exec %s -v -o %s %s%s \"$@\"\n" % (TIME_BIN, _q(time_file), spy, _q(self.python)))
        wrapper.chmod(0o755)
        inventory = rundir / "inventory.ini"
        inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % wrapper)
        playbook = rundir / "playbook.yml"
        play = [{"name": "airgap.mirror benchmark", "hosts": "localhost", "gather_facts": False,
                 "tasks": [{"name": TASK_NAME, "airgap.mirror.image_mirror": args}]}]
        playbook.write_text(json.dumps(play, indent=2) + "\n")
        results = rundir / "results.jsonl"
        env = dict(os.environ)
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
            "ANSIBLE_CALLBACKS_ENABLED": "testbed_results",
            "AIRGAP_TESTBED_RESULTS": str(results),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-local"),
            "ANSIBLE_REMOTE_TMP": str(self.work / "ansible-remote"),
            "ANSIBLE_HOME": str(self.work / "ansible-home"),
        })
        sampler = RssSampler([MODULE_FILE, str(self.work / "ansible-remote")])
        res = run_measured([self.ansible_playbook, "-i", str(inventory), str(playbook)], env=env, cwd=str(rundir),
                           out_dir=rundir, name="ansible-playbook", sampler=sampler)
        res["module_time"] = parse_time_v(time_file)
        if profile is not None and profile.exists():
            res["profile"] = str(profile)
            log("    py-spy profile (%s) %s; top leaf frames:" % (self.args.profile, profile))
            for line in summarize_profile(profile):
                log("      " + line)
        res["vmhwm_mib"] = round(sampler.hwm_kb / 1024, 1) if sampler.hwm_kb else None
        res["vmhwm_samples"] = sampler.samples
        res["module_pid"] = sampler.pid
        result = None
        if results.exists():
            for line in results.read_text().splitlines():
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

    # ---------------------------------------------------------------- verification

    def verify_registry(self, label, reg, expected):
        """``expected``: [(repo, tag, digest, image)]. Every tag answers with the digest (HEAD);
        for a sample, skopeo inspect --raw gives the same digest, index members too, and every
        blob of the sample is in the repository with its size."""
        bad = []
        for repo, tag, digest, _image in expected:
            status, headers = reg.head("/v2/%s/manifests/%s" % (repo, tag))
            if status != 200 or headers.get("Docker-Content-Digest") != digest:
                bad.append("%s/%s:%s is %s (HTTP %s), expected %s" % (
                    reg.host, repo, tag, headers.get("Docker-Content-Digest"), status, digest))
        checked = 0
        for repo, tag, digest, image in _sample(expected):
            ref = "docker://%s/%s:%s" % (reg.host, repo, tag)
            got = skopeo_digest(["--tls-verify=false", ref])
            if got != digest:
                bad.append("skopeo inspect --raw %s: %s, expected %s" % (ref, got, digest))
            for child in image.children:
                cref = "docker://%s/%s@%s" % (reg.host, repo, child.digest)
                got = skopeo_digest(["--tls-verify=false", cref])
                if got != child.digest:
                    bad.append("skopeo inspect --raw %s: %s" % (cref, got))
            blobs = {}
            for member in image.manifests():  # configs and layers (manifests are not under /blobs/)
                for desc in ([member.config] if member.config else []) + list(member.layers):
                    blobs[desc.digest] = desc.size
            for blob, size in blobs.items():
                status, headers = reg.head("/v2/%s/blobs/%s" % (repo, blob))
                if status != 200 or int(headers.get("Content-Length", -1)) != size:
                    bad.append("%s/%s blob %s: HTTP %s, %s bytes (expected %d)" % (
                        reg.host, repo, blob[:19], status, headers.get("Content-Length"), size))
            checked += 1
        return self._verdict(label, len(expected), checked, bad)

    def verify_layout(self, label, path, wl):
        """index.json names every image with its digest; every blob file hashes to its name; every
        blob of the workload is there; skopeo inspect --raw oci:DIR:REF agrees for a sample."""
        bad = []
        index = json.loads((path / "index.json").read_text())
        by_digest = {}
        for entry in index.get("manifests", []):
            name = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            by_digest.setdefault(entry["digest"], []).append(name)
        for item in wl.images:
            if item.digest not in by_digest:
                bad.append("index.json has no entry for %s (%s)" % (item.repo, item.digest))
        blob_dir = path / "blobs" / "sha256"
        present = {}
        for blob in blob_dir.iterdir():
            if blob.name.startswith(".") or not blob.is_file():
                continue
            hasher = hashlib.sha256()
            with open(blob, "rb") as handle:
                for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                    hasher.update(chunk)
            if hasher.hexdigest() != blob.name:
                bad.append("blob %s hashes to %s" % (blob.name[:12], hasher.hexdigest()[:12]))
            present["sha256:" + blob.name] = blob.stat().st_size
        for digest, size in wl.unique_blobs.items():
            if present.get(digest) != size:
                bad.append("blob %s missing or wrong size (%s, expected %d)" % (digest[:19], present.get(digest), size))
        checked = 0
        for item in _sample(wl.images):
            names = [n for n in by_digest.get(item.digest, []) if n]
            if not names:
                continue
            ref = "oci:%s:%s" % (path, names[0])
            got = skopeo_digest([ref])
            if got != item.digest:
                bad.append("skopeo inspect --raw %s: %s, expected %s" % (ref, got, item.digest))
            checked += 1
        return self._verdict(label, len(wl.images), checked, bad, blobs=len(present))

    def verify_dirs(self, label, pairs):
        """``pairs``: [(dir path, expected digest)] -- skopeo inspect --raw dir:PATH for a sample,
        manifest.json bytes for all."""
        bad = []
        for path, digest in pairs:
            data = (Path(path) / "manifest.json").read_bytes()
            if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                bad.append("%s/manifest.json is not %s" % (path, digest))
        checked = 0
        for path, digest in _sample(pairs):
            got = skopeo_digest(["dir:%s" % path])
            if got != digest:
                bad.append("skopeo inspect --raw dir:%s: %s, expected %s" % (path, got, digest))
            checked += 1
        return self._verdict(label, len(pairs), checked, bad)

    def _verdict(self, label, total, checked, bad, **extra):
        out = {"images": total, "skopeo_checked": checked, "ok": not bad, "problems": bad[:20], **extra}
        if bad:
            self.problems.append("%s: %d problems, first: %s" % (label, len(bad), bad[0]))
            log("    VERIFY %s: %d PROBLEMS: %s" % (label, len(bad), "; ".join(bad[:3])))
        else:
            log("    verified %s: %d images (skopeo inspect --raw on %d)" % (label, total, checked))
        return out

    # ---------------------------------------------------------------- helpers

    def refs(self, wl):
        """Source references as users give them: by digest for the release, by tag otherwise."""
        out = []
        for item in wl.images:
            if wl.by_digest:
                out.append("%s/%s@%s" % (self.src.host, item.repo, item.digest))
            else:
                out.append("%s/%s:%s" % (self.src.host, item.repo, item.tag))
        return out

    @staticmethod
    def dest_tag(wl, item):
        """The tag both tools write in a registry destination (the module's deterministic tag)."""
        return ("mirror-sha256-" + item.digest.split(":", 1)[1]) if wl.by_digest else item.tag

    def expected_in_registry(self, wl):
        return [(item.repo, self.dest_tag(wl, item), item.digest, item.image) for item in wl.images]

    def module_args(self, wl, dest, **extra):
        args = {"images": self.refs(wl), "dest": dest, "insecure_registries": [self.src.host, dest]}
        args.update(extra)
        return args

    @staticmethod
    def slim(res, **extra):
        """What the JSON keeps of one run."""
        rec = {k: (str(v) if isinstance(v, Path) else v) for k, v in res.items() if k != "result"}
        if res.get("result"):
            rec["totals"] = res["result"].get("totals")
        rec.update(extra)
        return rec

    def row(self, workload, metric, ours, skopeo, target, unique, note="", ratio=None, ratios=None, loads=None,
            extra=None):
        if ratio is None and metric == "seconds" and ours is not None and skopeo:
            ratio = ours / skopeo
        if target is None:
            verdict = "info"
        else:
            value = ratio if metric == "seconds" else ours
            verdict = "PASS" if value is not None and value <= target else "FAIL"
        row = {"workload": workload, "metric": metric, "ours": ours, "skopeo": skopeo, "ratio": ratio,
               "ratios": ratios, "target": target, "result": verdict, "unique_bytes": unique, "note": note,
               "load": loads}
        row.update(extra or {})
        self.rows.append(row)
        return row

    def describe_module(self, res):
        t = (res.get("result") or {}).get("totals") or {}
        mt = res.get("module_time") or {}
        return ("ansible-playbook %.2fs (in-module %.2fs, module cpu %.1fu+%.1fs, peak RSS %s MiB; load %.1f); "
                "copied %s present %s; blobs copied %s mounted %s skipped %s; %s requests; %s sent" % (
                    res["wall"], t.get("seconds") or 0, mt.get("user", 0), mt.get("sys", 0),
                    mt.get("maxrss_mib"), res["load_before"], t.get("copied"), t.get("present"),
                    t.get("blobs_copied"), t.get("blobs_mounted"), t.get("blobs_skipped"), t.get("requests"),
                    W.human(t.get("bytes_transferred") or 0)))

    @staticmethod
    def describe_skopeo(res):
        return "loop %.2fs (cpu %.1fu+%.1fs, peak RSS %s MiB, load %.1f; private blob cache %d bytes after)%s" % (
            res["wall"], res["cpu_user"], res["cpu_sys"], res["peak_rss_mib"], res["load_before"],
            res["blob_cache"]["bytes"],
            "; then fsync of its files (not counted): %.2fs" % res["sync_after"] if "sync_after" in res else "")

    # ---------------------------------------------------------------- paired runs

    def paired(self, key, wl, n, skopeo_fn, ours_fns, target=None, note=""):
        """Run ``skopeo_fn(i)`` and then each ``ours_fns`` variant ``fn(i)`` for i in range(n),
        interleaved so that each pair sees the same machine load. Every fn returns a dict with
        ``res`` (a run) and optionally ``stats``, ``verify``. One row per ours variant: the medians
        of the wall times and the median of the per-pair ratios."""
        sk_runs, our_runs = [], {name: [] for name, _fn in ours_fns}
        for i in range(n):
            if n > 1:
                log("  -- run %d of %d" % (i + 1, n))
            sk = skopeo_fn(i)
            log("  skopeo: %s" % self.describe_skopeo(sk["res"]))
            sk_runs.append(sk)
            for name, fn in ours_fns:
                ours = fn(i)
                log("  ours%s: %s" % (" (%s)" % name if name else "", self.describe_module(ours["res"])))
                our_runs[name].append(ours)
            if i == 0:
                log("  requests  skopeo: %s" % _reqs(sk.get("stats") or {}))
                for name, _fn in ours_fns:
                    log("            ours%s: %s" % (" (%s)" % name if name else "", _reqs(our_runs[name][0].get("stats") or {})))
        sk_walls = [r["res"]["wall"] for r in sk_runs]
        syncs = [r["res"]["sync_after"] for r in sk_runs if "sync_after" in r["res"]]
        if syncs:
            note += "; skopeo's files then need %.2fs of fsync (not counted)" % _median(syncs)
        record = {"skopeo": [self.slim(r["res"], registries=r.get("stats"), verify=r.get("verify")) for r in sk_runs]}
        rows = []
        for idx, (name, _fn) in enumerate(ours_fns):
            runs = our_runs[name]
            walls = [r["res"]["wall"] for r in runs]
            ratios = [o / s for o, s in zip(walls, sk_walls)]
            floors = [self.floor(r) for r in runs]
            floor_ratios = [f / s for f, s in zip(floors, sk_walls) if f is not None]
            record["ours" + ("/" + name if name else "")] = [
                self.slim(r["res"], registries=r.get("stats"), verify=r.get("verify")) for r in runs]
            loads = (round(_median([r["res"]["load_before"] for r in runs]), 1), round(_median(
                [r["res"]["load_before"] for r in sk_runs]), 1))
            rows.append(self.row(wl.name, "seconds", _median(walls), _median(sk_walls),
                                 target if idx == 0 else None, wl.unique_bytes,
                                 note + (", %s" % name if name else ""), ratio=_median(ratios), ratios=ratios,
                                 loads=loads, extra={"ours_min": min(walls), "skopeo_min": min(sk_walls),
                                                     "cpu_ours_median": _median([_cpu(r) for r in runs]),
                                                     "cpu_skopeo_median": _median([_cpu(r) for r in sk_runs]),
                                                     "in_module_median": _median([
                                                         r["res"]["result"]["totals"]["seconds"] for r in runs]),
                                                     "floor_s": _median(floors),
                                                     "floor_ratio": _median(floor_ratios),
                                                     "runs": n}))
        self.records[key] = record
        return sk_runs, our_runs

    # ---------------------------------------------------------------- measurements

    def skopeo_r2r(self, wl, tag, keep=False):
        """A fresh registry and the per-image skopeo copy loop into it."""
        reg = self.new_registry("%s-skopeo-%s" % (wl.name, tag))
        lst = self.work / ("%s.%s.list" % (wl.name, tag))
        lst.write_text("".join("%s %s/%s:%s\n" % (ref, reg.host, item.repo, self.dest_tag(wl, item))
                               for ref, item in zip(self.refs(wl), wl.images)))
        script = self.script("%s-%s" % (wl.name, tag), """
while read -r src dst; do
  skopeo copy --all --quiet --preserve-digests --src-tls-verify=false --dest-tls-verify=false "docker://${src}" "docker://${dst}"
done < %s
""" % _q(lst))
        out = self.skopeo_loop(tag, wl, script, reg)
        out["verify"] = self.verify_registry("%s skopeo %s" % (wl.name, tag), reg, self.expected_in_registry(wl))
        out.update(reg=reg, script=script)
        if not keep:
            self.drop(reg)
        return out

    def accounted(self, run, reg=None, source=True):
        """``run()`` between the registries' accounting marks: {"res": its result, "stats": the
        requests and CPU of the source (if *source*) and of *reg*}."""
        sides = ([("source", self.src)] if source else []) + ([("dest", reg)] if reg is not None else [])
        for _side, r in sides:
            r.begin()
        res = run()
        return {"res": res, "stats": {side: r.end() for side, r in sides}}

    def skopeo_loop(self, tag, wl, script, reg=None, source=True):
        out = self.accounted(lambda: self.skopeo_run("%s-%s-skopeo" % (wl.name, tag), script), reg, source)
        res = out["res"]
        if res["rc"] != 0:
            raise BenchError("skopeo loop %s %s failed (rc %s):\n%s" % (wl.name, tag, res["rc"], tail(res["stderr"])))
        return out

    def ours_r2r(self, wl, tag, keep=False, **extra):
        reg = self.new_registry("%s-ours-%s" % (wl.name, tag))
        map_path = self.work / "maps" / ("%s-%s.yml" % (wl.name, tag))
        map_path.parent.mkdir(parents=True, exist_ok=True)
        out = self.ours_run(tag, wl, self.module_args(wl, reg.host, mirror_map=str(map_path), **extra), reg)
        out["verify"] = self.verify_registry("%s ours %s" % (wl.name, tag), reg, self.expected_in_registry(wl))
        out.update(reg=reg, map_path=map_path)
        if not keep:
            self.drop(reg)
        return out

    def ours_run(self, tag, wl, args, reg=None, source=True):
        return self.accounted(lambda: self.module_run("%s-%s-ours" % (wl.name, tag), args), reg, source)

    def registry_to_registry(self, wl, n):
        """(a)/(b) registry -> registry, then the no-op re-runs on the last pair's registries."""
        kept = {}

        def skopeo_fn(i):
            out = self.skopeo_r2r(wl, "r2r-%d" % i, keep=(i == n - 1))
            kept["skopeo"] = out
            return out

        def ours_fn(i):
            out = self.ours_r2r(wl, "r2r-%d" % i, keep=(i == n - 1))
            kept["ours"] = out
            return out

        self.paired("%s r->r" % wl.name, wl, n, skopeo_fn, [("", ours_fn)], TARGETS.get("%s r->r" % wl.name),
                    "registry -> registry")
        sk_reg, our_reg = kept["skopeo"]["reg"], kept["ours"]["reg"]
        log("\n== (%s) no-op re-run (everything already there; same destinations)" % wl.name)

        def skopeo_noop(i):
            return self.skopeo_loop("noop-%d" % i, wl, kept["skopeo"]["script"], sk_reg)

        def ours_noop(i, lock=True):
            args = self.module_args(wl, our_reg.host, mirror_map=str(kept["ours"]["map_path"]))
            if not lock:
                args["use_mirror_map"] = False
            out = self.ours_run("noop-%d%s" % (i, "" if lock else "-nolock"), wl, args, our_reg)
            t = out["res"]["result"]
            if t.get("changed") or t["totals"].get("copied"):
                self.problems.append("%s no-op re-run reported changes: %s" % (wl.name, t["totals"]))
            return out

        self.paired("%s r->r no-op" % wl.name, wl, n, skopeo_noop,
                    [("mirror map as lockfile", ours_noop), ("use_mirror_map: false", lambda i: ours_noop(i, False))],
                    TARGETS["b r->r no-op"] if wl.name == "b" else None, "no-op re-run")
        self.drop(sk_reg)
        self.drop(our_reg)

    def to_disk(self, wl, n):
        """(a) registry -> disk: the seed's dir: loop (2.4) against the module into an OCI layout.
        Returns the last dir tree and layout (the sources of the disk -> registry leg)."""
        listing = self.work / ("%s.r2d.list" % wl.name)
        listing.write_text("".join(ref + "\n" for ref in self.refs(wl)))
        kept = {}

        def skopeo_fn(i):
            if "tree" in kept:
                shutil.rmtree(kept["tree"], ignore_errors=True)
            tree = kept["tree"] = self.work / ("%s-dir-tree-%d" % (wl.name, i))
            script = self.script("%s-r2d-%d" % (wl.name, i), """
IMAGE_LIST_FILE=%s
IMAGE_LOCAL_DIR=%s
while read -r src_img ; do
  # Remove the source registry prefix (seed 003, 2.4)
  dst_img=$(echo "${src_img}" | cut -d '/' -f 2-)
  mkdir -p "${IMAGE_LOCAL_DIR}/${dst_img}"
  skopeo copy --all --quiet --preserve-digests --src-tls-verify=false \\
    docker://"${src_img}" dir://"${IMAGE_LOCAL_DIR}/${dst_img}"
done < "${IMAGE_LIST_FILE}"
""" % (_q(listing), _q(tree)))
            out = self.skopeo_loop("r2d-%d" % i, wl, script)
            out["res"]["sync_after"] = sync_files(tree)
            pairs = [(tree / ref.split("/", 1)[1], item.digest) for ref, item in zip(self.refs(wl), wl.images)]
            out["verify"] = self.verify_dirs("%s skopeo r->disk" % wl.name, pairs)
            return out

        def ours_fn(i):
            if "layout" in kept:
                shutil.rmtree(kept["layout"], ignore_errors=True)
            layout = kept["layout"] = self.work / ("%s-oci-layout-%d" % (wl.name, i))
            out = self.ours_run("r2d-%d" % i, wl, self.module_args(
                wl, "oci:%s" % layout, insecure_registries=[self.src.host],
                mirror_map=str(self.work / "maps" / ("%s-r2d-%d.yml" % (wl.name, i)))))
            out["verify"] = self.verify_layout("%s ours r->disk" % wl.name, layout, wl)
            return out

        self.paired("%s r->disk" % wl.name, wl, n, skopeo_fn, [("", ours_fn)], TARGETS.get("%s r->disk" % wl.name),
                    "registry -> disk (oci: vs dir: loop)")
        tree, layout = kept["tree"], kept["layout"]
        tree_app, tree_alloc, tree_files = tree_size(tree)
        lay_app, lay_alloc, lay_files = tree_size(layout)
        sizes = {"unique_blob_bytes": wl.unique_bytes, "per_image_bytes": wl.per_image_bytes,
                 "layout_bytes": lay_app, "layout_allocated": lay_alloc, "layout_files": lay_files,
                 "dir_tree_bytes": tree_app, "dir_tree_allocated": tree_alloc, "dir_tree_files": tree_files}
        self.records["%s r->disk" % wl.name]["sizes"] = sizes
        log("  sizes: OCI layout %s (%d files, %s allocated) = %.4f x unique blob bytes %s; skopeo dir tree %s "
            "(%d files) = %.3f x unique" % (
                W.human(lay_app), lay_files, W.human(lay_alloc), lay_app / wl.unique_bytes, W.human(wl.unique_bytes),
                W.human(tree_app), tree_files, tree_app / wl.unique_bytes))
        self.row(wl.name, "layout/unique", lay_app / wl.unique_bytes, tree_app / wl.unique_bytes,
                 TARGETS["layout/unique"], wl.unique_bytes,
                 "OCI layout bytes / unique blob bytes (skopeo col: its dir tree)", extra={"sizes": sizes})
        return tree, layout

    def from_disk(self, wl, n, tree, layout):
        """(a) disk -> registry: the seed's dir: -> docker loop (2.5) against the module from the layout."""
        digest_of_dir = {str(tree / ref.split("/", 1)[1]): item for ref, item in zip(self.refs(wl), wl.images)}
        by_digest = {item.digest: item for item in wl.images}

        def skopeo_fn(i):
            reg = self.new_registry("%s-skopeo-d2r-%d" % (wl.name, i))
            script = self.script("%s-d2r-%d" % (wl.name, i), """
IMAGE_LOCAL_DIR=%s
TARGET_REGISTRY=%s
image_tag=mirror-$(date +%%y%%m%%d%%H%%M%%S)
image_cnt=1
pushd "${IMAGE_LOCAL_DIR}" >/dev/null
while read -r src_manifest ; do
  src_img=$(dirname "${src_manifest}")
  dst_img="${TARGET_REGISTRY}/${src_img}"
  dst_img=$(echo "${dst_img}" | awk -F'@' '{print $1}')
  skopeo copy --all --quiet --preserve-digests --dest-tls-verify=false \\
    dir://"${IMAGE_LOCAL_DIR}/${src_img}" docker://"${dst_img}:${image_tag}-${image_cnt}"
  echo "PUSHED ${src_img} ${dst_img}:${image_tag}-${image_cnt}"
  (( image_cnt += 1 ))
done < <(find . -type f -name manifest.json -printf '%%P\\n')
popd >/dev/null
""" % (_q(tree), reg.host))
            out = self.skopeo_loop("d2r-%d" % i, wl, script, reg, source=False)
            expected = []
            for line in Path(out["res"]["stdout"]).read_text().splitlines():
                if line.startswith("PUSHED "):
                    _p, rel, dst = line.split(" ", 2)
                    item = digest_of_dir[str(tree / rel)]
                    repo, tag = dst.split("/", 1)[1].rsplit(":", 1)
                    expected.append((repo, tag, item.digest, item.image))
            if len(expected) != len(wl.images):
                self.problems.append("skopeo disk->r pushed %d of %d images" % (len(expected), len(wl.images)))
            out["verify"] = self.verify_registry("%s skopeo disk->r" % wl.name, reg, expected)
            self.drop(reg)
            return out

        def ours_fn(i):
            reg = self.new_registry("%s-ours-d2r-%d" % (wl.name, i))
            out = self.ours_run("d2r-%d" % i, wl, {
                "src": "oci:%s" % layout, "images": ["all"], "dest": reg.host, "insecure_registries": [reg.host],
                "mirror_map": str(self.work / "maps" / ("%s-d2r-%d.yml" % (wl.name, i)))}, reg, source=False)
            expected = []
            for entry in out["res"]["result"]["images"]:
                item = by_digest.get(entry["digest"])
                if item is None:
                    self.problems.append("disk->r ours: unexpected image %s" % entry)
                    continue
                repo, tag = entry["destination"].split("/", 1)[1].rsplit(":", 1)
                expected.append((repo, tag, item.digest, item.image))
            if len(expected) != len(wl.images):
                self.problems.append("ours disk->r pushed %d of %d images" % (len(expected), len(wl.images)))
            out["verify"] = self.verify_registry("%s ours disk->r" % wl.name, reg, expected)
            self.drop(reg)
            return out

        self.paired("%s disk->r" % wl.name, wl, n, skopeo_fn, [("", ours_fn)], TARGETS.get("%s disk->r" % wl.name),
                    "disk -> registry (oci: vs dir: loop)")

    def concurrency_sweep(self, wl, values, rounds):
        """The module alone with each ``concurrency`` value, registry -> registry into fresh
        registries; ``rounds`` rounds over all values (interleaved, so load drifts hit every value)."""
        runs = {conc: [] for conc in values}
        for rnd in range(rounds):
            for conc in values:
                reg = self.new_registry("%s-sweep-c%d-%d" % (wl.name, conc, rnd))
                run = self.ours_run("sweep-c%d-%d" % (conc, rnd), wl, self.module_args(wl, reg.host, concurrency=conc),
                                    reg)
                res = run["res"]
                ver = self.verify_registry("%s sweep c=%d" % (wl.name, conc), reg, self.expected_in_registry(wl))
                t = res["result"]["totals"]
                mt = res.get("module_time") or {}
                runs[conc].append({"wall": res["wall"], "module_seconds": t.get("seconds"), "cpu_user": mt.get("user"),
                                   "cpu_sys": mt.get("sys"), "peak_rss_mib": mt.get("maxrss_mib"),
                                   "dest_registry_cpu": run["stats"]["dest"]["cpu_seconds"],
                                   "source_registry_cpu": run["stats"]["source"]["cpu_seconds"],
                                   "load": res["load_before"], "verify_ok": ver["ok"]})
                log("  concurrency %2d: %s" % (conc, self.describe_module(res)))
                self.drop(reg)
        out = {}
        for conc, items in runs.items():
            out[conc] = {key: _median([i[key] for i in items]) for key in items[0] if key != "verify_ok"}
            out[conc]["verify_ok"] = all(i["verify_ok"] for i in items)
            out[conc]["runs"] = items
        self.sweep[wl.name] = out

    def large(self, wl):
        """(c): time and peak RSS of the module process, registry -> registry and registry -> disk."""
        tree = self.work / "c-dir-tree"
        layout = self.work / "c-oci-layout"
        refs = self.refs(wl)

        def skopeo_r2d(_i):
            lst = self.work / "c.r2d.list"
            lst.write_text("".join(ref + "\n" for ref in refs))
            script = self.script("c-r2d", """
while read -r src_img ; do
  dst_img=$(echo "${src_img}" | cut -d '/' -f 2-)
  mkdir -p %s/"${dst_img}"
  skopeo copy --all --quiet --preserve-digests --src-tls-verify=false docker://"${src_img}" dir://%s/"${dst_img}"
done < %s
""" % (_q(tree), _q(tree), _q(lst)))
            out = self.skopeo_loop("r2d", wl, script)
            out["res"]["sync_after"] = sync_files(tree)
            pairs = [(tree / ref.split("/", 1)[1], item.digest) for ref, item in zip(refs, wl.images)]
            out["verify"] = self.verify_dirs("c skopeo r->disk", pairs)
            shutil.rmtree(tree, ignore_errors=True)
            return out

        def ours_r2d(_i):
            out = self.ours_run("r2d", wl, self.module_args(wl, "oci:%s" % layout, insecure_registries=[self.src.host]))
            out["verify"] = self.verify_layout("c ours r->disk", layout, wl)
            shutil.rmtree(layout, ignore_errors=True)
            return out

        for kind, sk_fn, our_fn in (("r->r", lambda i: self.skopeo_r2r(wl, "r2r"), lambda i: self.ours_r2r(wl, "r2r")),
                                    ("r->disk", skopeo_r2d, ours_r2d)):
            log("  %s" % kind)
            sk_runs, our_runs = self.paired("c %s" % kind, wl, 1, sk_fn, [("", our_fn)], None,
                                            "%s, one %s layer" % (kind, W.human(wl.spec["size"], binary=True)))
            ours, sk = our_runs[""][0]["res"], sk_runs[0]["res"]
            mt = ours.get("module_time") or {}
            module_own = (ours["result"]["totals"].get("peak_rss_bytes") or 0) / (1 << 20)
            log("  %s peak RSS of the module process: /usr/bin/time -v %s MiB (the AnsiballZ python, pid %s), "
                "VmHWM sampled %s MiB (%d samples), module's totals.peak_rss_bytes %.1f MiB; whole ansible-playbook "
                "tree max %.1f MiB; skopeo %s MiB" % (
                    kind, mt.get("maxrss_mib"), ours.get("module_pid"), ours.get("vmhwm_mib"),
                    ours.get("vmhwm_samples", 0), module_own, ours["tree_maxrss_kb"] / 1024, sk["peak_rss_mib"]))
            rss = {"time_v_mib": mt.get("maxrss_mib"), "vmhwm_mib": ours.get("vmhwm_mib"),
                   "module_totals_mib": round(module_own, 1), "skopeo_mib": sk["peak_rss_mib"]}
            self.records["c %s" % kind]["rss"] = rss
            self.row("c", "peak RSS MiB", mt.get("maxrss_mib"), sk["peak_rss_mib"], TARGETS["peak RSS MiB"],
                     wl.unique_bytes, "%s: module process (/usr/bin/time -v); VmHWM %s, totals %.1f" % (
                         kind, ours.get("vmhwm_mib"), module_own), extra={"rss": rss})

    def ansible_overhead(self):
        """ansible-playbook running the module with nothing to do: the fixed cost of every run."""
        self.module_run("warm-up", {"images": [], "dest": "127.0.0.1:1"})  # first run compiles bytecode
        walls = []
        for i in range(3):
            res = self.module_run("overhead-%d" % i, {"images": [], "dest": "127.0.0.1:1"})
            mt = res.get("module_time") or {}
            walls.append(res["wall"])
            log("  ansible-playbook with images: [] -> %.2fs wall (module process %.2fs, cpu %.2fu+%.2fs; "
                "load %.1f)" % (res["wall"], mt.get("wall", 0), mt.get("user", 0), mt.get("sys", 0), res["load_before"]))
            self.records["ansible overhead %d" % i] = self.slim(res)
        self.fixed_cost = _median(walls)
        return self.fixed_cost

    def floor(self, run):
        """A lower bound on the wall time of one of our runs, from what it made the registries do:
        ansible-playbook's fixed cost (measured above; serial, before the first request and after
        the last) plus the registries' CPU seconds spread over every CPU. No client, however fast,
        finishes that request pattern sooner on this machine. None without a registry or the
        fixed cost."""
        stats = run.get("stats") or {}
        if self.fixed_cost is None or not stats:
            return None
        return self.fixed_cost + sum(s["cpu_seconds"] for s in stats.values()) / (os.cpu_count() or 1)


# --------------------------------------------------------------------------------- utilities

def _q(path):
    return "'" + str(path).replace("'", "'\\''") + "'"


def _cpu(run):
    """user+system CPU seconds of a run's whole process tree (ansible-playbook + module, or the
    skopeo loop)."""
    return run["res"]["cpu_user"] + run["res"]["cpu_sys"]


def _median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _sample(items):
    items = list(items)
    if len(items) <= 3:
        return items
    return [items[0], items[len(items) // 2], items[-1]]


def _reqs(stats):
    parts = []
    for side, s in stats.items():
        parts.append("%s: %d req (blob GET %d = %s, blob HEAD %d, manifest GET %d/HEAD %d/PUT %d, uploads %d "
                     "[%d PATCH], mounts %d), registry cpu %.1fs" % (
                         side, s["requests"], s["blob_gets"], W.human(s["blob_get_bytes"]), s["blob_heads"],
                         s["manifest_gets"], s["manifest_heads"], s["manifest_puts"], s["uploads_finished"],
                         s["upload_patches"], s["mounts"], s["cpu_seconds"]))
    return "; ".join(parts)


def sync_files(tree):
    """Seconds to fsync every file skopeo wrote (``sync FILE...``): the write-back its dir: loop
    leaves to the kernel, which the module does itself (it fsyncs every blob). Reported, not
    added to skopeo's time."""
    files = [str(p) for p in Path(tree).rglob("*") if p.is_file()]
    t0 = time.monotonic()
    for start in range(0, len(files), 200):
        subprocess.run(["sync", *files[start:start + 200]], check=False)
    return time.monotonic() - t0


def skopeo_digest(args):
    proc = subprocess.run([SKOPEO, "inspect", "--raw", *args], capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        return "error: %s" % proc.stderr.decode(errors="replace").strip()[-300:]
    return "sha256:" + hashlib.sha256(proc.stdout).hexdigest()


def parse_time_v(path):
    """The fields of ``/usr/bin/time -v`` we use."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    out = {}
    for key, pattern in (("maxrss_kb", r"Maximum resident set size \(kbytes\): (\d+)"),
                         ("user", r"User time \(seconds\): ([\d.]+)"),
                         ("sys", r"System time \(seconds\): ([\d.]+)")):
        match = re.search(pattern, text)
        if match:
            out[key] = float(match.group(1))
    match = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if match:
        seconds = 0.0
        for part in match.group(1).split(":"):
            seconds = seconds * 60 + float(part)
        out["wall"] = seconds
    if "maxrss_kb" in out:
        out["maxrss_mib"] = round(out["maxrss_kb"] / 1024, 1)
    return out


ENGINE_FILES = ("copy.py", "registry.py", "layout.py", "store.py", "plan.py", "mirror.py", "manifest.py", "auth.py",
                "image_mirror.py")


def summarize_profile(path, top=12):
    """Top leaf (self) frames, engine functions (inclusive) and the share spent importing/compiling
    (module start) of a py-spy raw profile (frames are ``function (file:line)``, files by basename)."""
    leaf, inclusive, total, imports = {}, {}, 0, 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _sep, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        total += n
        frames = stack.split(";")
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + n
        if any("importlib._bootstrap" in f or "zipimport" in f for f in frames):
            imports += n
        seen = set()
        for frame in frames:
            match = re.match(r"(.*) \((.*?):\d+\)$", frame)
            if match and match.group(2) in ENGINE_FILES:
                key = "%s (%s)" % (match.group(1), match.group(2))
                if key not in seen:
                    seen.add(key)
                    inclusive[key] = inclusive.get(key, 0) + n
    if not total:
        return ["(empty profile)"]
    out = ["%d samples; importing/compiling at module start: %.1f%%" % (total, 100.0 * imports / total)]
    out += ["%5.1f%%  %s" % (100.0 * n / total, f) for f, n in sorted(leaf.items(), key=lambda kv: -kv[1])[:top]]
    out.append("-- engine functions, inclusive:")
    out += ["%5.1f%%  %s" % (100.0 * n / total, f)
            for f, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]]
    return out


def _fmt(value, metric):
    if value is None:
        return "-"
    if metric == "seconds":
        return "%.2f" % value
    if metric == "layout/unique":
        return "%.4f" % value
    return "%.1f" % value


def print_table(rows):
    header = ("workload", "measurement", "ours", "skopeo", "ratio", "target", "result", "floor ratio", "unique bytes",
              "ratio per run", "in-module s", "client cpu s (ours/skopeo)", "load (ours/skopeo)")
    lines = []
    for r in rows:
        metric = r["metric"]
        if metric == "seconds":
            target = "<= %.2f" % r["target"] if r["target"] is not None else "-"
            what = "%s (s)" % r["note"]
        elif metric == "peak RSS MiB":
            target = "<= %d MiB" % r["target"]
            what = "peak RSS MiB, %s" % r["note"]
        else:
            target = "<= %.2f" % r["target"]
            what = r["note"]
        lines.append((r["workload"], what, _fmt(r["ours"], metric), _fmt(r["skopeo"], metric),
                      "%.3f" % r["ratio"] if r["ratio"] is not None else "-", target, r["result"],
                      "%.2f" % r["floor_ratio"] if r.get("floor_ratio") is not None else "-",
                      "%d (%s)" % (r["unique_bytes"], W.human(r["unique_bytes"])),
                      " ".join("%.2f" % x for x in r["ratios"]) if r.get("ratios") else "-",
                      "%.2f" % r["in_module_median"] if r.get("in_module_median") is not None else "-",
                      "%.1f / %.1f" % (r["cpu_ours_median"], r["cpu_skopeo_median"])
                      if r.get("cpu_ours_median") is not None else "-",
                      "%.1f / %.1f" % tuple(r["load"]) if r.get("load") else "-"))
    widths = [max(len(str(x[i])) for x in lines + [header]) for i in range(len(header))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    log(fmt % header)
    log("  ".join("-" * w for w in widths))
    for line in lines:
        log(fmt % line)


def environment():
    def version(cmd):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
            return proc.stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return None
    import httpx  # noqa: F401  (the module needs it; fail early when the venv lacks it)
    import ansible
    return {"host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": sys.version.split()[0], "ansible_core": ansible.__version__, "httpx": httpx.__version__,
            "skopeo": version([SKOPEO, "--version"]),
            "registry": version(["/usr/bin/docker-registry", "--version"]),
            "commit": version(["git", "-C", str(ROOT), "rev-parse", "HEAD"]),
            "dirty": bool(version(["git", "-C", str(ROOT), "status", "--porcelain", "--", "plugins"]))}


# --------------------------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", default="a,b,c", help="workloads to run, e.g. a,b (default a,b,c)")
    parser.add_argument("--sweep", default="2,4,8,16", help="module concurrency values for the sweep ('' skips it)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="paired runs (skopeo, then ours, alternately) per comparison of (a) and (b); the table "
                             "shows medians (default 3)")
    parser.add_argument("--sweep-repeat", type=int, default=2,
                        help="rounds over the sweep's values (interleaved; the table shows medians; default 2)")
    parser.add_argument("--workdir", help="work directory (default: a new temp dir, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--output", help="JSON results file (default bench/results/bench-<time>.json)")
    parser.add_argument("--profile", choices=("cpu", "wall"),
                        help="run every module process under py-spy (cpu: busy threads only; wall: --idle too) and "
                             "print the top frames; profiles go to bench/results/profiles/. Times and RSS are then "
                             "not representative")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - {"a", "b", "c"}
    if unknown:
        parser.error("unknown workloads: %s" % ", ".join(sorted(unknown)))
    sweep = [int(v) for v in args.sweep.split(",") if v.strip()]

    bench = Bench(args)
    env = environment()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log("airgap.mirror benchmark %s%s: workloads %s, work dir %s" % (stamp, " (quick)" if args.quick else "",
                                                                     ",".join(names), bench.work))
    log("machine: %d CPUs (registry, skopeo and the module all share them), %s, %s, ansible-core %s, httpx %s" % (
        env["cpus"], env["skopeo"], env["registry"], env["ansible_core"], env["httpx"]))
    exit_code = 0
    phases = {}
    try:
        bench.check_tools()
        bench.setup()
        log("\n== workloads (deterministic; generated, then seeded into %s with skopeo)" % bench.src.host)
        phases["generate"] = bench.generate(names)
        phases["seed"] = bench.seed(names)
        log("  generated in %.1fs, seeded in %.1fs" % (phases["generate"], phases["seed"]))
        log("\n== fixed cost of ansible-playbook + module start")
        phases["overhead"] = bench.ansible_overhead()
        for name in names:
            wl = bench.workloads[name]
            t0 = time.monotonic()
            if name in ("a", "b"):
                log("\n== (%s) registry -> registry: %s" % (name, wl.title))
                bench.registry_to_registry(wl, args.repeat)
                if name == "a":
                    log("\n== (a) registry -> disk")
                    tree, layout = bench.to_disk(wl, args.repeat)
                    log("\n== (a) disk -> registry")
                    bench.from_disk(wl, args.repeat, tree, layout)
                    shutil.rmtree(tree, ignore_errors=True)
                    shutil.rmtree(layout, ignore_errors=True)
                if sweep:
                    log("\n== (%s) concurrency sweep, registry -> registry" % name)
                    bench.concurrency_sweep(wl, sweep, args.sweep_repeat)
            else:
                log("\n== (c) one image with a %s layer" % W.human(bench.specs["c"]["size"], binary=True))
                bench.large(wl)
            phases[name] = time.monotonic() - t0
    except BenchError as exc:
        log("\nBENCH ERROR: %s" % exc)
        bench.problems.append(str(exc))
        exit_code = 1
    finally:
        bench.close()
    total = time.monotonic() - bench.started

    if bench.sweep:
        log("\n== concurrency sweep (module alone, registry -> registry, fresh registry per run; medians of %d "
            "interleaved rounds: ansible-playbook wall s / in-module s, module cpu, registries' cpu source/dest, load)"
            % args.sweep_repeat)
        values = sorted({c for d in bench.sweep.values() for c in d})
        log("  %-12s" % "concurrency" + "".join("%-24s" % ("(%s) wall / module" % n) for n in bench.sweep)
            + "".join("%-16s" % ("(%s) cpu u+s" % n) for n in bench.sweep)
            + "".join("%-18s" % ("(%s) reg cpu s/d" % n) for n in bench.sweep)
            + "".join("%-10s" % ("(%s) load" % n) for n in bench.sweep))
        for conc in values:
            cells = cpus = regs = loads = ""
            for name, data in bench.sweep.items():
                d = data.get(conc)
                cells += "%-24s" % ("%.2f / %.2f" % (d["wall"], d["module_seconds"]) if d else "-")
                cpus += "%-16s" % ("%.1f+%.1f" % (d["cpu_user"] or 0, d["cpu_sys"] or 0) if d else "-")
                regs += "%-18s" % ("%.1f / %.1f" % (d["source_registry_cpu"], d["dest_registry_cpu"]) if d else "-")
                loads += "%-10s" % ("%.1f" % d["load"] if d else "-")
            log("  %-12d%s%s%s%s" % (conc, cells, cpus, regs, loads))

    log("\n== results%s\n   ours = ansible-playbook running airgap.mirror.image_mirror, skopeo = the seed's per-image "
        "loop; seconds are wall-clock medians of %d paired runs for (a)/(b) (1 for c), ratio = median of the per-pair "
        "ratios; load = 1-minute load average when the runs started (2 CPUs)" % (
            " (QUICK sizes: targets are for the full run)" if args.quick else "", args.repeat))
    print_table(bench.rows)
    loads = [r["load"][0] for r in bench.rows if r.get("load")]
    if loads and _median(loads) > 1.5 * (os.cpu_count() or 1):
        log("\nNOTE: the machine was busy (median load %.1f on %d CPUs while these ran): wall times are inflated and "
            "ratios noisy (see 'ratio per run'); the client CPU seconds are the steadier comparison."
            % (_median(loads), os.cpu_count() or 1))
    if bench.problems:
        exit_code = 1
        log("\nPROBLEMS:")
        for problem in bench.problems:
            log("  - %s" % problem)
    log("\ntotal %.0fs (generate %.0fs, seed %.0fs%s)" % (total, phases.get("generate", 0), phases.get("seed", 0),
                                                          "".join(", %s %.0fs" % (n, phases[n]) for n in names
                                                                  if n in phases)))
    default_name = "bench-%s%s.json" % (stamp, "-quick" if args.quick else "")
    output = Path(args.output) if args.output else RESULTS_DIR / default_name
    output.parent.mkdir(parents=True, exist_ok=True)
    specs = {n: bench.specs[n] for n in names}
    doc = {"started": stamp, "quick": args.quick, "workloads": names, "specs": specs, "environment": env,
           "workload_bytes": {n: {"unique": wl.unique_bytes, "per_image": wl.per_image_bytes, "images": len(wl.images)}
                              for n, wl in bench.workloads.items()},
           "rows": bench.rows, "sweep": {n: {str(c): v for c, v in d.items()} for n, d in bench.sweep.items()},
           "records": bench.records, "phases": phases, "total_seconds": total, "problems": bench.problems,
           "argv": sys.argv}
    output.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    log("results written to %s" % output)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
