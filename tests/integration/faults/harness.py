"""The engine harness of the fault matrix and the invariants every case is checked with.

Every case ends in one of two outcomes, and the checks here tell which:

- the complete, correct mirror: :func:`verify_registry_image` / :func:`verify_layout_image`
  (skopeo reads the image back -- it verifies every blob against its digest while copying -- and
  the top digest is the source's);
- a clear error naming the image and the cause (asserted by each test on the report).

And in both cases :func:`audit_registry` / :func:`audit_layout` find nothing wrong: no tag or index
pointing at a missing manifest or blob, no blob whose bytes do not hash to its name, no
half-written file among the blobs, an ``index.json`` that parses and names only complete images.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

from support import images, skopeo as skopeo_cli

from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, Limits
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.registry import Deadline

MANIFEST_TYPES = (images.OCI_MANIFEST, images.OCI_INDEX, images.DOCKER_MANIFEST, images.DOCKER_LIST)
ACCEPT = ", ".join(MANIFEST_TYPES)
MiB = 1 << 20


def seed(image, registry, repository, tag):
    """Put ``image`` into ``registry`` with skopeo (never through the engine under test)."""
    images.seed_registry(image, registry, repository, tag)
    return f"{repository}:{tag}"


# -- the engine -------------------------------------------------------------------------------------

def proxied_bed(registry_factory, proxy_factory, fault_images, **seeds) -> SimpleNamespace:
    """A source and a destination registry, each behind its own fault proxy (``psrc``, ``pdst``,
    both in ``insecure``), with ``seeds`` (``big=("app/big", "1")``) pushed to the source with
    skopeo; each seeded image is an attribute of the bed under its name."""
    src, dst = registry_factory(), registry_factory()
    bed = SimpleNamespace(src=src, dst=dst, psrc=proxy_factory(src), pdst=proxy_factory(dst))
    bed.insecure = [bed.psrc.host, bed.pdst.host]
    for name, (repository, tag) in seeds.items():
        seed(fault_images[name], src, repository, tag)
        setattr(bed, name, fault_images[name])
    return bed


def run_engine(image_refs, dest, *, insecure=(), retries=5, deadline=None, sessions=None, credentials=None,
               concurrency=4, **client_options):
    """Plan and copy in this process with the engine; returns ``(report, seconds)``."""
    pool_args = {"insecure_registries": list(insecure), "retries": retries, "deadline": Deadline(deadline)}
    if credentials is not None:
        pool_args["credentials"] = credentials
    pool = ClientPool(**pool_args, **client_options)
    started = time.monotonic()
    try:
        report = mirror(MirrorRequest(image_refs, dest, limits=Limits(concurrency=concurrency)), pool=pool,
                        sessions=sessions)
    finally:
        pool.close()
    return report, time.monotonic() - started


def failures(report) -> dict:
    """``{source: error}`` of the failed images."""
    return {f["source"]: f.get("error") for f in report["failed"]}


# -- checks -----------------------------------------------------------------------------------------

def verify_registry_image(registry, reference: str, digest: str, workdir: Path) -> None:
    """skopeo reads ``registry/reference`` back, every platform, verifying every blob; the top
    digest must be ``digest``."""
    ref = f"docker://{registry.host}/{reference}"
    got = skopeo_cli.digest_of(ref, registry=registry)
    assert got == digest, f"{ref} is {got}, expected {digest}"
    target = workdir / ("verify-" + hashlib.sha256(ref.encode()).hexdigest()[:12])
    skopeo_cli.copy(ref, f"dir:{target}", src_registry=registry)


def verify_layout_image(layout: Path, ref_name: str, digest: str, workdir: Path) -> None:
    """skopeo reads ``oci:layout:ref_name`` back, verifying every blob; the digest must match."""
    index = json.loads((layout / "index.json").read_text())
    found = [m for m in index["manifests"]
             if (m.get("annotations") or {}).get(images.REF_NAME) == ref_name]
    assert found and found[0]["digest"] == digest, f"{layout} records {found} for {ref_name}, expected {digest}"
    target = workdir / ("verify-" + hashlib.sha256(ref_name.encode()).hexdigest()[:12])
    skopeo_cli.copy(f"oci:{layout}:{ref_name}", f"dir:{target}")


def _registry_get(registry, path, accept=ACCEPT, method="GET"):
    return registry.request(method, path, headers={"Accept": accept})


def audit_registry(registry) -> list[str]:
    """Every tag of every repository: its manifest tree and blobs must all be there."""
    problems = []
    status, _h, body = _registry_get(registry, "/v2/_catalog?n=1000")
    assert status == 200, body
    for repo in json.loads(body).get("repositories") or []:
        status, _h, body = _registry_get(registry, f"/v2/{repo}/tags/list")
        if status == 404:
            continue
        for tag in json.loads(body).get("tags") or []:
            problems += _audit_manifest(registry, repo, tag, f"{repo}:{tag}")
    return problems


def _audit_manifest(registry, repo, ref, where, depth=0) -> list[str]:
    status, headers, body = _registry_get(registry, f"/v2/{repo}/manifests/{ref}")
    if status != 200:
        return [f"{where}: manifest {ref} answers {status}"]
    if ref.startswith("sha256:") and "sha256:" + hashlib.sha256(body).hexdigest() != ref:
        return [f"{where}: manifest {ref} does not hash to its digest"]
    manifest = json.loads(body)
    problems = []
    for child in manifest.get("manifests") or []:
        problems += _audit_manifest(registry, repo, child["digest"], f"{where} > {child['digest'][:19]}", depth + 1)
    for blob in ([manifest["config"]] if manifest.get("config") else []) + (manifest.get("layers") or []):
        status, headers, _b = _registry_get(registry, f"/v2/{repo}/blobs/{blob['digest']}", method="HEAD")
        if status != 200:
            problems.append(f"{where}: blob {blob['digest']} answers {status}")
        elif int(headers.get("Content-Length", -1)) != blob["size"]:
            problems.append(f"{where}: blob {blob['digest']} has {headers.get('Content-Length')} bytes, "
                            f"descriptor says {blob['size']}")
    return problems


def audit_layout(layout: Path) -> list[str]:
    """Blobs hash to their names, nothing but blobs under ``blobs/``, and every ``index.json`` entry is
    complete."""
    layout = Path(layout)
    problems = []
    blob_dir = layout / "blobs" / "sha256"
    present = {}
    for path in sorted(blob_dir.iterdir()) if blob_dir.is_dir() else []:
        if len(path.name) != 64 or not all(c in "0123456789abcdef" for c in path.name):
            problems.append(f"stray file among the blobs: {path}")
            continue
        hasher = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(MiB), b""):
                hasher.update(chunk)
        if hasher.hexdigest() != path.name:
            problems.append(f"blob {path.name} does not hash to its name (got {hasher.hexdigest()})")
        present["sha256:" + path.name] = path.stat().st_size
    for leftover in layout.glob(".tmp-*"):
        problems.append(f"half-written file left in the layout: {leftover}")
    try:
        index = json.loads((layout / "index.json").read_text())
    except (OSError, ValueError) as exc:
        return problems + [f"index.json unreadable: {exc}"]

    def walk(desc, where):
        if present.get(desc["digest"]) != desc["size"]:
            return [f"{where}: {desc['digest']} missing or of the wrong size"]
        if desc["mediaType"] not in MANIFEST_TYPES:
            return []
        body = json.loads((blob_dir / desc["digest"].split(":", 1)[1]).read_bytes())
        out = []
        for child in body.get("manifests") or []:
            out += walk(child, f"{where} > {child['digest'][:19]}")
        for blob in ([body["config"]] if body.get("config") else []) + (body.get("layers") or []):
            out += walk(blob, where)
        return out

    for entry in index.get("manifests") or []:
        problems += walk(entry, (entry.get("annotations") or {}).get(images.REF_NAME, entry["digest"]))
    return problems


def tags_of(registry, repository) -> list[str]:
    status, _h, body = _registry_get(registry, f"/v2/{repository}/tags/list")
    return [] if status == 404 else sorted(json.loads(body).get("tags") or [])


def upload_paths(proxy, since=0, method=None):
    """The exchanges of blob uploads seen by ``proxy`` (POST/PATCH/PUT/GET on /blobs/uploads/)."""
    return list(proxy.exchanges(method, r"/blobs/uploads/", since=since))


def query_of(path: str) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))


# -- ansible-playbook as a process that can be killed -------------------------------------------------

MIRROR_PLAYBOOK = """
- name: Mirror under faults
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror the images
      airgap.mirror.image_mirror: "{{ mirror_args }}"
"""


def start_playbook(workdir: Path, playbook: str, extra_vars: dict):
    """Start ``ansible-playbook`` in its own session (so the test can SIGKILL the whole process
    tree: ansible-playbook, its worker and the module process) with the test bed's environment.
    Returns the Popen; output goes to ``workdir/killed-run.log``."""
    import os
    import subprocess
    import sys

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "killed-playbook.yml").write_text(playbook)
    (workdir / "killed-vars.json").write_text(json.dumps(extra_vars))
    (workdir / "killed-inventory.ini").write_text(
        'localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"\n')
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.environ["AIRGAP_COLLECTIONS_PATH"],
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(workdir / "ansible-remote"),
    })
    log = open(workdir / "killed-run.log", "wb")
    try:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(workdir / "killed-inventory.ini"),
             "-e", "@" + str(workdir / "killed-vars.json"), str(workdir / "killed-playbook.yml")],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        # the module runs from this directory; with progress on it is started in the background
        # (as async does) and leaves ansible-playbook's process tree: kill_tree finds it by it
        proc.remote_temp = env["ANSIBLE_REMOTE_TEMP"]  # type: ignore[attr-defined]
        return proc
    finally:
        log.close()


def _tree(root_pid: int) -> list[int]:
    """``root_pid`` and every process descending from it (ansible's worker calls setsid(), so a
    process group or session does not hold the whole tree)."""
    import subprocess

    out = subprocess.run(["ps", "-eo", "pid=,ppid=,stat="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    alive = set()
    for line in out.splitlines():
        pid, ppid, state = line.split()[:3]
        children.setdefault(int(ppid), []).append(int(pid))
        if not state.startswith("Z"):
            alive.add(int(pid))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [pid for pid in found if pid in alive]


def kill_tree(proc) -> list[int]:
    """SIGKILL ``proc`` (started by :func:`start_playbook`) and every process under it at once --
    ansible-playbook, its worker, the module -- as a power cut would; reap ``proc`` and wait until
    none of them is left. Returns the pids killed."""
    import os
    import signal

    pids = _tree(proc.pid)
    remote_temp = getattr(proc, "remote_temp", None)
    if remote_temp:  # the module started in the background, and what it started
        for pid in _running_from(remote_temp):
            pids.extend(p for p in _tree(pid) if p not in pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(30)
    wait_for(lambda: not set(pids) & set(_alive()), 30, "the killed processes to go away")
    return pids


def _running_from(directory: str) -> list[int]:
    """Processes whose command line names a file under *directory*."""
    import subprocess

    out = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split(None, 1)[0]) for line in out.splitlines()
            if len(line.split(None, 1)) == 2 and directory + "/" in line.split(None, 1)[1]]


def _alive() -> list[int]:
    import subprocess

    out = subprocess.run(["ps", "-eo", "pid=,stat="], capture_output=True, text=True, check=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if not line.split()[1].startswith("Z")]


def wait_for(predicate, timeout: float = 60.0, what: str = "a condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
