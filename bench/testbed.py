"""The test bed of one benchmark run: a work directory, the collection shim, the loopback
registries (the source behind a simulated link, when there is one), the workloads and the seeded
source."""

from __future__ import annotations

import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import workloads as W
from accounting import Meter, Stats
from link import Link, LinkProfile
from measure import TIME_BIN, BenchError, log, tree_size

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from support.registry import Registry  # noqa: E402  pylint: disable=wrong-import-position

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
SYSTEM_BLOB_CACHE = Path("/var/lib/containers/cache")
_ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json",
                     "application/vnd.docker.distribution.manifest.v2+json"])


def collection_shim(tree: Path, coll: Path) -> Path:
    """Make *coll* a collections path in which the checkout *tree* is ``airgap.mirror``; returns *coll*."""
    link = coll / "ansible_collections" / "airgap" / "mirror"
    link.parent.mkdir(parents=True)
    link.symlink_to(Path(tree).resolve())
    return coll


class Reg:
    """A real ``docker-registry`` on loopback, with request accounting and, when ``linked`` on a
    simulated link profile, a link in front of it. ``host`` is what the tools are given (the
    link's address); ``direct_host`` is the registry itself (seeding and verification do not
    cross the link)."""

    def __init__(self, workdir: Path, profile: LinkProfile, linked: bool = False) -> None:
        # configured as Debian's packaged /etc/docker/registry/config.yml does (the in-memory blob
        # descriptor cache), with warnings only in the application log; the access log stays on
        # because the benchmark counts requests from it
        self.registry = Registry(workdir, extra_config={
            "log": {"level": "warn"}, "storage": {"cache": {"blobdescriptor": "inmemory"}}}).start()
        self.link = Link(self.registry.host, profile).start() if linked and profile.simulated else None
        self.meter = Meter(self.registry, self.link)

    @property
    def host(self) -> str:
        return self.link.host if self.link is not None else self.registry.host

    @property
    def direct_host(self) -> str:
        return self.registry.host

    def begin(self) -> None:
        self.meter.begin()

    def end(self) -> Stats:
        return self.meter.end()

    def storage_bytes(self) -> int:
        return tree_size(self.registry.storage)[0]

    def drop(self) -> None:
        if self.link is not None:
            self.link.stop()
        self.registry.stop()
        shutil.rmtree(self.registry.workdir, ignore_errors=True)

    def head(self, path: str) -> tuple[int, dict[str, str]]:
        """HEAD ``path`` on the registry itself (not through the link): status and headers."""
        req = urllib.request.Request(self.registry.url + path, method="HEAD", headers={"Accept": _ACCEPT})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers)


class Testbed:
    """Work directory, registries and workloads of one run; ``close()`` removes what it made."""

    def __init__(self, work: Path, profile: LinkProfile, keep: bool) -> None:
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self.profile = profile
        self.keep = keep
        self.collections = self.work / "collections"
        self.python = sys.executable
        self.ansible_playbook = str(Path(sys.executable).parent / "ansible-playbook")
        self.workloads: dict[str, W.Workload] = {}
        self.regs: list[Reg] = []
        self.counter = 0
        self._src: Reg | None = None

    @property
    def src(self) -> Reg:
        if self._src is None:
            raise BenchError("the source registry is not started")
        return self._src

    def check_tools(self) -> None:
        missing = [p for p in (SKOPEO, TIME_BIN, "/usr/bin/docker-registry", self.ansible_playbook)
                   if not Path(p).exists()]
        if shutil.which("unshare") is None:
            missing.append("unshare (util-linux)")
        if missing:
            raise BenchError("missing: %s" % ", ".join(missing))
        if os.geteuid() != 0:
            raise BenchError("run as root: skopeo's blob-info cache is redirected with unshare --mount + bind mount")
        SYSTEM_BLOB_CACHE.mkdir(parents=True, exist_ok=True)  # where skopeo (root) would create it anyway

    def setup(self) -> None:
        shim = self.collections / "ansible_collections" / "airgap"
        shim.mkdir(parents=True, exist_ok=True)
        if not (shim / "mirror").exists():
            os.symlink(ROOT, shim / "mirror")
        self._src = self.new_registry("source", linked=True)

    def new_registry(self, name: str, linked: bool = False) -> Reg:
        """A fresh registry; only the source is ``linked`` (behind the link, as the internet is
        on the connected side: the mirror is local)."""
        self.counter += 1
        reg = Reg(self.work / "registries" / ("%02d-%s" % (self.counter, name)), self.profile, linked)
        self.regs.append(reg)
        return reg

    def drop(self, reg: Reg) -> None:
        reg.drop()
        if reg in self.regs:
            self.regs.remove(reg)

    def close(self) -> None:
        for reg in list(self.regs):
            reg.drop()
        if not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def script(self, name: str, body: str) -> Path:
        """A bash script (``set -euo pipefail``) in the work directory."""
        path = self.work / "scripts" / ("%s.sh" % name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/bash\nset -euo pipefail\n" + body.lstrip("\n"), encoding="utf-8")
        return path

    def generate(self, names: list[str], specs: dict[str, dict]) -> float:
        """Build the workloads' OCI layouts; returns the seconds it took."""
        t0 = time.monotonic()
        for name in names:
            wl = self.workloads[name] = W.build(name, specs[name], self.work / "gen" / name)
            log("  %s" % wl.describe())
            log("     layers: %s, layer media type %s (tar of pseudo-random bytes)"
                % (", ".join("%d %s" % (n, role) for role, n in wl.layers.items()), W.LAYER_MEDIA_TYPE))
        return time.monotonic() - t0

    def seed_listing(self, names: list[str]) -> Path:
        """``oci:LAYOUT:REF REGISTRY/REPO:TAG`` lines for seeding the source registry directly."""
        lines = []
        for name in names:
            for item in self.workloads[name].images:
                lines.append("%s %s/%s:%s" % (item.image.oci_ref, self.src.direct_host, item.repo, item.tag))
        listing = self.work / "seed.list"
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return listing

    def check_seeded(self, names: list[str]) -> None:
        """Every workload image is in the source registry with its digest."""
        for name in names:
            for item in self.workloads[name].images:
                status, headers = self.src.head("/v2/%s/manifests/%s" % (item.repo, item.tag))
                if status != 200 or headers.get("Docker-Content-Digest") != item.digest:
                    raise BenchError("seeded %s:%s has %s (HTTP %s), expected %s" % (
                        item.repo, item.tag, headers.get("Docker-Content-Digest"), status, item.digest))
