"""Real Debian hosts for integration tests: podman containers that Ansible reaches over ssh.

The bed has three parts, all real:

* **The host image** (:func:`host_image`): a Debian bookworm root file system made by ``mmdebstrap``
  from the machine's Debian mirror (``/etc/apt/sources.list.d/debian.sources``), with sshd, python3,
  skopeo and podman, imported into a *private* podman storage.  The tarball and the storage are
  cached under ``${AIRGAP_CACHE:-~/.cache/airgap-mirror}/hosts/<key>``, keyed by a hash of the
  package list and the recipe, so only the first run of a machine pays for the build.
* **The hosts** (:class:`HostBed`): containers from that image running sshd (authorized key from a
  per-bed ed25519 key pair) on the podman bridge, with ``mirror.test`` resolving to the bridge
  gateway ``10.88.0.1``; an Ansible inventory (YAML) with per-host variables.
  :meth:`HostBed.reset_host` recreates one host from the image (pristine state).
* **A mirror registry the hosts can reach** (:class:`MirrorRegistry`): Debian's ``docker-registry``
  with TLS (certificate for ``DNS:mirror.test,IP:10.88.0.1``) and htpasswd, bound to the bridge
  gateway on a free port, seeded with skopeo from an OCI layout.

Every podman call uses a private ``containers.conf``/``storage.conf`` (runc, cgroupfs, file events
logger, explicit ulimits, private CNI config dir, private storage and runroot), so the machine's own
podman configuration and storage are never used.  What stays on the machine after a run: the
cache, ``/run/airgap-mirror/<key>`` (podman's run root), and what CNI creates on the first host
start and never removes: the bridge ``cni-podman0`` with 10.88.0.1, the iptables chains
``CNI-FORWARD``/``CNI-ADMIN`` (plus per-container NAT chains while hosts run),
``/var/lib/cni/{networks,results}`` and ``net.ipv4.ip_forward=1``; root skopeo (seeding) keeps its
blob-info cache in ``/var/lib/containers/cache``.  See feasibility.md section 3 for the why of each
setting.

Nested podman (``with_podman=True``): the host container runs ``--privileged`` with an anonymous
volume for ``/var/lib/containers`` (so the inner storage can use overlay on a real file system).
The image carries ``/etc/containers/{containers,storage}.conf`` (runc, cgroupfs, the file events
logger, k8s-file logs, the ulimits the machine allows) and its own podman network 10.90.0.0/16 in
``/etc/cni/net.d`` (Debian's default 10.88.0.0/16 would shadow the outer bridge inside the host
and take 10.88.0.1, i.e. mirror.test, away).  Without ``--privileged`` nested podman cannot work:
``/sys/fs/cgroup`` is read-only (runc: "mkdir /sys/fs/cgroup/cpuset/libpod_parent: read-only file
system"; runc rejects ``--cgroups=disabled``) and without CAP_SYS_ADMIN podman wants slirp4netns.

This module does not import pytest; ``hosts_fixtures.py`` wraps it in fixtures.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from . import images
from .pki import PKI
from .registry import Registry

SUITE = "bookworm"
# What every host needs: sshd + python3 for Ansible (iproute2 for its network facts), skopeo and
# ca-certificates for the mirror consumers, podman/runc/conmon/catatonit for roles that run
# containers on the host (nested podman); nginx for airgap.mirror.file_server (the host's Debian web
# server under a unit of the role's own) and curl, the independent HTTPS client of its test.
HOST_PACKAGES = (
    "ca-certificates",
    "catatonit",
    "conmon",
    "curl",
    "iproute2",
    "nginx",
    "openssh-server",
    "podman",
    "python3",
    "runc",
    "skopeo",
)
# Bump when the recipe below changes in a way that changes the image (forces a rebuild).
RECIPE_VERSION = 1

LABEL = "airgap.mirror.hostbed"

GATEWAY_IP = "10.88.0.1"
BRIDGE_NAME = "cni-podman0"
NETWORK_NAME = "podman"
SUBNET = "10.88.0.0/16"
MIRROR_HOSTNAME = "mirror.test"
# The podman network *inside* a host must not overlap the outer one: a second 10.88.0.0/16 bridge
# in the host's network namespace shadows eth0's route and takes 10.88.0.1 (mirror.test) away.
INNER_SUBNET = "10.90.0.0/16"
INNER_GATEWAY = "10.90.0.1"

# CAP_SYS_RESOURCE is missing on the machines we run on: podman's default ulimits (nofile 1048576,
# nproc 4194304) fail with EPERM.  These are below the hard limits (feasibility.md section 3).
ULIMITS = ("nofile=20000:20000", "nproc=8192:8192")

DEBIAN_SOURCES = "/etc/apt/sources.list.d/debian.sources"

# Debian package that provides each tool this bed runs on the machine.  (sshd runs inside the
# hosts, from the image; the machine needs only the ssh client.)
REQUIRED_TOOLS = {
    "mmdebstrap": "mmdebstrap",
    "podman": "podman",
    "runc": "runc",
    "conmon": "conmon",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "skopeo": "skopeo",
    "docker-registry": "docker-registry",
    "htpasswd": "apache2-utils",
    "openssl": "openssl",
}


class HostBedError(RuntimeError):
    """The host bed cannot be built or started; the message says what failed and how to fix it."""


def _log_default(msg: str) -> None:
    print(f"[hostbed] {msg}", flush=True)


def _which(tool: str) -> str | None:
    found = shutil.which(tool)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/bin", "/usr/libexec/podman"):
        p = os.path.join(d, tool)
        if os.access(p, os.X_OK):
            return p
    return None


def missing_requirements() -> list[str]:
    """Human-readable problems that stop the bed from working on this machine (empty = ready)."""
    problems = []
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if not _which(tool)})
    if missing:
        problems.append(
            "missing tools; install them with: apt-get install -y --no-install-recommends "
            + " ".join(missing)
        )
    if os.geteuid() != 0:
        problems.append(
            "the host bed needs root (mmdebstrap --mode=root and rootful podman on the "
            "10.88.0.0/16 bridge); run the hosts tests as root"
        )
    if not os.path.exists(DEBIAN_SOURCES) and not os.environ.get("AIRGAP_DEBIAN_MIRROR"):
        problems.append(
            f"no {DEBIAN_SOURCES} to take the Debian mirror from; set AIRGAP_DEBIAN_MIRROR "
            "to a mirror URL (e.g. http://deb.debian.org/debian)"
        )
    return problems


def cache_root() -> Path:
    """``${AIRGAP_CACHE:-$HOME/.cache/airgap-mirror}``."""
    env = os.environ.get("AIRGAP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "airgap-mirror"


def _run(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, check: bool = True,
         timeout: float | None = 600, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        list(cmd), env=dict(env) if env is not None else None, input=input,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, check=False,
    )
    if check and proc.returncode != 0:
        raise HostBedError(
            f"command failed (rc={proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )
    return proc


# --------------------------------------------------------------------------------------------
# Debian mirror and the image recipe
# --------------------------------------------------------------------------------------------

def debian_mirror_lines(path: str = DEBIAN_SOURCES, suite: str = SUITE) -> list[str]:
    """One-line ``deb`` sources for *suite* (and its -updates/-security) from a deb822 file.

    ``AIRGAP_DEBIAN_MIRROR`` (a URL) replaces the file: then only ``<url> <suite> main`` is used.
    """
    override = os.environ.get("AIRGAP_DEBIAN_MIRROR")
    if override:
        return [f"deb {override} {suite} main"]
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise HostBedError(f"cannot read the Debian mirror from {path}: {exc}") from exc
    lines = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                continue
            k, v = raw.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        opts = f" [signed-by={fields['signed-by']}]" if fields.get("signed-by", "").startswith("/") else ""
        comps = fields.get("components", "main")
        for uri in fields.get("uris", "").split():
            for s in fields.get("suites", "").split():
                if s == suite or s.startswith(suite + "-"):
                    lines.append(f"deb{opts} {uri} {s} {comps}")
    if not any(f" {suite} " in line for line in lines):
        raise HostBedError(
            f"{path} has no 'Types: deb' entry for suite {suite!r}; set AIRGAP_DEBIAN_MIRROR to a "
            "Debian mirror URL"
        )
    return lines


# The nested-podman configuration baked into the image (used when a host runs --privileged).
_INNER_CONTAINERS_CONF = f"""\
# Written by tests/support/hosts.py: podman inside a test host container.
[containers]
default_ulimits = [{", ".join(json.dumps(u) for u in ULIMITS)}]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

_INNER_STORAGE_CONF = """\
# Written by tests/support/hosts.py: /var/lib/containers is a volume on a real file system.
[storage]
driver = "overlay"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
"""


def _cni_conflist(subnet: str, gateway: str) -> dict:
    return {
        "cniVersion": "0.4.0",
        "name": NETWORK_NAME,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE_NAME,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "ranges": [[{"subnet": subnet, "gateway": gateway}]],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall"},
            {"type": "tuning"},
        ],
    }


_INNER_CNI_CONFLIST = json.dumps(_cni_conflist(INNER_SUBNET, INNER_GATEWAY), indent=2) + "\n"


def image_recipe(packages: Iterable[str] = HOST_PACKAGES, suite: str = SUITE,
                 mirrors: Sequence[str] | None = None) -> dict:
    """Everything that determines the image; its hash is the cache key."""
    return {
        "recipe": RECIPE_VERSION,
        "suite": suite,
        "packages": sorted(set(packages)),
        "mirrors": list(mirrors if mirrors is not None else debian_mirror_lines(suite=suite)),
        "arch": platform.machine(),
        "inner_containers_conf": _INNER_CONTAINERS_CONF,
        "inner_storage_conf": _INNER_STORAGE_CONF,
        "inner_cni": _INNER_CNI_CONFLIST,
    }


def recipe_key(recipe: Mapping) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Private podman
# --------------------------------------------------------------------------------------------

class Podman:
    """podman with a private configuration: ``podman.run("ps")``.

    *state_dir* holds ``containers.conf``, ``storage.conf``, ``cni/`` and the graph root
    (``storage/``); the run root and libpod's tmp dir live under ``/run/airgap-mirror/<key>`` (short
    paths: conmon's attach socket path must stay under 108 bytes).
    """

    def __init__(self, state_dir: Path, run_dir: Path):
        self.state_dir = Path(state_dir)
        self.run_dir = Path(run_dir)
        self.containers_conf = self.state_dir / "containers.conf"
        self.storage_conf = self.state_dir / "storage.conf"
        self._write_config()

    def _write_config(self) -> None:
        cni_dir = self.state_dir / "cni"
        for d in (self.state_dir, cni_dir, self.state_dir / "storage", self.run_dir / "run",
                  self.run_dir / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        _atomic_write(cni_dir / "87-podman-bridge.conflist",
                      json.dumps(_cni_conflist(SUBNET, GATEWAY_IP), indent=2) + "\n")
        _atomic_write(self.containers_conf, "\n".join([
            "# Private podman configuration of the airgap.mirror host test bed.",
            "[containers]",
            f"default_ulimits = [{', '.join(json.dumps(u) for u in ULIMITS)}]",
            'log_driver = "k8s-file"',
            "[engine]",
            'runtime = "runc"',
            'cgroup_manager = "cgroupfs"',
            'events_logger = "file"',
            f'tmp_dir = "{self.run_dir / "tmp"}"',
            "[network]",
            'network_backend = "cni"',
            f'network_config_dir = "{cni_dir}"',
            f'default_network = "{NETWORK_NAME}"',
            "",
        ]))
        _atomic_write(self.storage_conf, "\n".join([
            "[storage]",
            'driver = "overlay"',
            f'graphroot = "{self.state_dir / "storage"}"',
            f'runroot = "{self.run_dir / "run"}"',
            "",
        ]))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["CONTAINERS_CONF"] = str(self.containers_conf)
        env["CONTAINERS_STORAGE_CONF"] = str(self.storage_conf)
        env.pop("CONTAINERS_REGISTRIES_CONF", None)
        return env

    def run(self, *args: str, check: bool = True, timeout: float | None = 600,
            input: str | None = None) -> subprocess.CompletedProcess:
        return _run(["podman", *args], env=self.env(), check=check, timeout=timeout, input=input)

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "exists", ref, check=False).returncode == 0

    def container_ip(self, name: str) -> str:
        out = self.run("inspect", name, "--format", "{{.NetworkSettings.IPAddress}}").stdout.strip()
        if not out:
            raise HostBedError(f"container {name} has no IP address on the {NETWORK_NAME} network")
        return out

    def remove(self, *names: str) -> None:
        if names:
            self.run("rm", "--force", "--volumes", "--time", "0", *names, check=False, timeout=120)


def _atomic_write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path = Path(path)
    data = text.encode() if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------
# The host image
# --------------------------------------------------------------------------------------------

@dataclass
class HostImage:
    """A host image in a private podman storage."""

    ref: str
    key: str
    cache_dir: Path
    tarball: Path
    podman: Podman
    packages: tuple[str, ...]
    built: bool = False            # mmdebstrap ran in this process
    imported: bool = False         # podman import ran in this process
    build_seconds: float = 0.0
    import_seconds: float = 0.0
    total_seconds: float = 0.0


def host_image(packages: Iterable[str] = HOST_PACKAGES, *, cache: Path | None = None,
               suite: str = SUITE, log: Callable[[str], None] = _log_default) -> HostImage:
    """Return the cached host image, building (mmdebstrap) and importing it only when missing.

    Safe to call from several processes at once (a file lock serializes the build).
    """
    t0 = time.monotonic()
    problems = missing_requirements()
    if problems:
        raise HostBedError("; ".join(problems))
    packages = tuple(sorted(set(packages)))
    recipe = image_recipe(packages, suite)
    key = recipe_key(recipe)
    cdir = (cache or cache_root()) / "hosts" / key
    podman = Podman(cdir / "podman", Path("/run/airgap-mirror") / key)
    img = HostImage(ref=f"localhost/airgap-host:{key}", key=key, cache_dir=cdir,
                    tarball=cdir / "rootfs.tar", podman=podman, packages=packages)
    with _file_lock(cdir / ".lock"):
        _atomic_write(cdir / "recipe.json", json.dumps(recipe, indent=2, sort_keys=True) + "\n")
        if podman.image_exists(img.ref):
            img.total_seconds = time.monotonic() - t0
            return img
        if not img.tarball.exists():
            log(f"building the host image with mmdebstrap ({suite}: {' '.join(packages)}) ...")
            t = time.monotonic()
            _mmdebstrap(img.tarball, packages, suite, recipe["mirrors"])
            img.build_seconds = time.monotonic() - t
            img.built = True
            log(f"mmdebstrap took {img.build_seconds:.1f}s ({img.tarball.stat().st_size >> 20} MiB)")
        t = time.monotonic()
        podman.run("import", "--message", f"airgap.mirror host bed {key}", str(img.tarball), img.ref,
                   timeout=900)
        img.import_seconds = time.monotonic() - t
        img.imported = True
        log(f"podman import took {img.import_seconds:.1f}s -> {img.ref}")
    img.total_seconds = time.monotonic() - t0
    return img


def cached_images(cache: Path | None = None) -> list[Path]:
    """Cache directories of host images (one per recipe key)."""
    base = (cache or cache_root()) / "hosts"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def remove_cached_image(cdir: Path) -> None:
    """Delete one cached host image: its containers, its podman storage, its tarball."""
    cdir = Path(cdir)
    with _file_lock(cdir / ".lock"):
        podman = Podman(cdir / "podman", Path("/run/airgap-mirror") / cdir.name)
        podman.run("system", "reset", "--force", check=False, timeout=300)
        shutil.rmtree(podman.run_dir, ignore_errors=True)
        for p in cdir.iterdir():
            if p.name != ".lock":
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    shutil.rmtree(cdir, ignore_errors=True)


def _mmdebstrap(dest: Path, packages: Sequence[str], suite: str, mirrors: Sequence[str]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    hooks = tempfile.mkdtemp(prefix="hostbed-hooks-", dir=dest.parent)
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.tmp"
    try:
        Path(hooks, "containers.conf").write_text(_INNER_CONTAINERS_CONF)
        Path(hooks, "storage.conf").write_text(_INNER_STORAGE_CONF)
        Path(hooks, "87-podman-bridge.conflist").write_text(_INNER_CNI_CONFLIST)
        cmd = [
            "mmdebstrap", "--variant=apt", "--mode=root", "--format=tar",
            "--include=" + ",".join(packages),
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--dpkgopt=path-exclude=/usr/share/info/*",
            # podman inside the host (privileged hosts only; harmless elsewhere)
            f'--customize-hook=mkdir -p "$1/etc/containers" && '
            f'cp {hooks}/containers.conf {hooks}/storage.conf "$1/etc/containers/" && '
            f'mkdir -p "$1/etc/cni/net.d" && cp {hooks}/87-podman-bridge.conflist "$1/etc/cni/net.d/"',
            # sshd: privilege separation dir, root login with keys only
            '--customize-hook=mkdir -p "$1/run/sshd" "$1/root/.ssh" && chmod 700 "$1/root/.ssh"',
            '--customize-hook=printf "PermitRootLogin prohibit-password\\nPasswordAuthentication no\\n'
            'UseDNS no\\n" > "$1/etc/ssh/sshd_config.d/hostbed.conf"',
            # a clean apt state and no machine id baked in
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin; '
            ': > "$1/etc/machine-id"',
            suite, str(tmp), *mirrors,
        ]
        _run(cmd, timeout=1800)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(hooks, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# --------------------------------------------------------------------------------------------
# The hosts
# --------------------------------------------------------------------------------------------

def gateway_is_up(ip: str = GATEWAY_IP) -> bool:
    """True when *ip* is an address of this machine (the bridge exists and is configured)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((ip, 0))
        except OSError:
            return False
    return True


def ensure_bridge(image: HostImage, timeout: float = 60) -> None:
    """Bring the podman bridge (and so the gateway 10.88.0.1) up if it is not yet.

    CNI creates ``cni-podman0`` when the first container joins the network and never removes it,
    so one throwaway container is enough.
    """
    if gateway_is_up():
        return
    image.podman.run("run", "--rm", "--network", NETWORK_NAME, image.ref, "/bin/true", timeout=timeout)
    if not gateway_is_up():
        raise HostBedError(
            f"{GATEWAY_IP} is not an address of this machine even after a container joined the "
            f"podman network; check the {BRIDGE_NAME} bridge (ip addr show {BRIDGE_NAME})"
        )


def prune_stale_hosts(podman: Podman, log: Callable[[str], None] = _log_default) -> list[str]:
    """Remove host containers left behind by test processes that no longer exist (killed runs)."""
    out = podman.run("ps", "--all", "--filter", f"label={LABEL}.pid", "--format", "json",
                     check=False).stdout
    try:
        containers = json.loads(out or "[]")
    except ValueError:
        return []
    stale = []
    for c in containers:
        pid = (c.get("Labels") or {}).get(f"{LABEL}.pid", "")
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            stale.extend(c.get("Names") or [])
    if stale:
        log(f"removing host containers of dead test runs: {', '.join(stale)}")
        podman.remove(*stale)
    return stale


@dataclass
class Host:
    """One host of a bed: ``name`` is its inventory name, ``container`` the podman container."""

    name: str
    container: str
    ip: str
    vars: dict = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    with_podman: bool = False
    start_seconds: float = 0.0


class HostBed:
    """Podman containers from a :class:`HostImage` acting as ssh-reachable Debian hosts.

    >>> bed = HostBed(img, workdir)
    >>> bed.start_hosts(2, prefix="node", host_vars=[{"x": 1}, {"x": 2}])
    >>> bed.inventory            # YAML inventory, rewritten whenever a host starts or resets
    >>> bed.group_vars["mirror"] = {"x": 1}; bed.write_inventory()   # group variables
    >>> bed.reset_host("node1")  # a pristine node1 again
    >>> bed.close()              # removes the containers (the image stays cached)
    """

    def __init__(self, image: HostImage, workdir: Path, *, run_id: str | None = None,
                 log: Callable[[str], None] = _log_default):
        self.image = image
        self.podman = image.podman
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id or f"{os.getpid():x}{secrets.token_hex(3)}"
        self.log = log
        self.hosts: dict[str, Host] = {}
        self.inventory = self.workdir / "inventory.yml"
        self.group_vars: dict[str, dict] = {}
        ssh_dir = self.workdir / "ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        self.private_key = ssh_dir / "id_ed25519"
        self.public_key = ssh_dir / "id_ed25519.pub"
        if not self.private_key.exists():
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"hostbed-{self.run_id}",
                  "-f", str(self.private_key)])
        os.chmod(self.private_key, 0o600)
        # A short directory for ssh ControlMaster sockets (108-byte socket path limit); close()
        # stops the masters so no ssh process outlives the bed.
        self.control_path_dir = Path(tempfile.mkdtemp(prefix="hb-cp-"))
        self._closed = False
        prune_stale_hosts(self.podman, log)
        atexit.register(self.close)

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> HostBed:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start_hosts(self, n: int, prefix: str = "host", *,
                    host_vars: Sequence[Mapping] | Mapping[str, Mapping] | None = None,
                    groups: Iterable[str] = (), with_podman: bool = False,
                    timeout: float = 60) -> list[Host]:
        """Start *n* hosts named ``<prefix>1..n`` and return them (with their IPs).

        *host_vars* is a list (one mapping per host, in order) or a mapping from host name to
        variables; they land in the inventory.  *groups* are inventory groups for these hosts.
        ``with_podman=True`` makes the hosts able to run podman themselves (privileged).
        """
        if self._closed:
            raise HostBedError("this host bed is closed")
        if n < 1:
            raise ValueError("n must be at least 1")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", prefix):
            raise ValueError(f"host prefix {prefix!r} must match [a-z][a-z0-9-]*")
        names = [f"{prefix}{i}" for i in range(1, n + 1)]
        clash = [nm for nm in names if nm in self.hosts]
        if clash:
            raise HostBedError(f"hosts already exist in this bed: {', '.join(clash)}")
        if isinstance(host_vars, Mapping):
            unknown = set(host_vars) - set(names)
            if unknown:
                raise ValueError(f"host_vars for unknown hosts: {', '.join(sorted(unknown))}")
            per_host = [dict(host_vars.get(nm, {})) for nm in names]
        elif host_vars is not None:
            if len(host_vars) != n:
                raise ValueError(f"host_vars has {len(host_vars)} entries for {n} hosts")
            per_host = [dict(v) for v in host_vars]
        else:
            per_host = [{} for _name in names]
        new = []
        for nm, hv in zip(names, per_host):
            host = Host(name=nm, container=f"hb-{self.run_id}-{nm}", ip="", vars=hv,
                        groups=tuple(groups), with_podman=with_podman)
            self.hosts[nm] = host
            new.append(host)
        t0 = time.monotonic()
        try:
            for host in new:
                self._create(host)
            for host in new:
                self._await_ready(host, t0, timeout)
        finally:
            self.write_inventory()
        self.log(f"started {', '.join(f'{h.name}={h.ip}' for h in new)} in {time.monotonic() - t0:.1f}s")
        return new

    def reset_host(self, name: str, timeout: float = 60) -> Host:
        """Recreate host *name* from the image: a pristine host with the same name, vars, groups."""
        host = self._host(name)
        t0 = time.monotonic()
        self.podman.remove(host.container)
        self._create(host)
        self._await_ready(host, t0, timeout)
        self.write_inventory()
        return host

    def remove_host(self, name: str) -> None:
        host = self.hosts.pop(name)
        self.podman.remove(host.container)
        self.write_inventory()

    def close(self) -> None:
        """Remove every container of this bed and stop the ssh control masters (idempotent)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        for sock in list(self.control_path_dir.iterdir()) if self.control_path_dir.exists() else []:
            _run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "hostbed"], check=False, timeout=10)
        self.podman.remove(*(h.container for h in self.hosts.values()))
        shutil.rmtree(self.control_path_dir, ignore_errors=True)

    # -- inventory ----------------------------------------------------------------------------

    def common_vars(self) -> dict:
        return {
            "ansible_connection": "ssh",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.private_key),
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_host_key_checking": False,
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                       "-o LogLevel=ERROR",
            "ansible_control_path_dir": str(self.control_path_dir),
        }

    def write_inventory(self, path: Path | None = None) -> Path:
        """Write the YAML inventory (all hosts, their vars and groups); return its path."""
        path = Path(path) if path else self.inventory
        hosts = {h.name: {"ansible_host": h.ip, **h.vars} for h in self.hosts.values()}
        children: dict[str, dict] = {}
        for h in self.hosts.values():
            for g in h.groups:
                children.setdefault(g, {"hosts": {}})["hosts"][h.name] = None
        for g, gv in self.group_vars.items():
            children.setdefault(g, {"hosts": {}})["vars"] = gv
        inv = {"all": {"vars": self.common_vars(), "hosts": hosts}}
        if children:
            inv["all"]["children"] = children
        # JSON is YAML; no dependency on PyYAML here.
        _atomic_write(path, json.dumps(inv, indent=2, sort_keys=True) + "\n", 0o600)
        return path

    def ansible_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for ``ansible``/``ansible-playbook`` against this bed."""
        env = dict(os.environ if base is None else base)
        env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
        env["ANSIBLE_INVENTORY"] = str(self.inventory)
        env.setdefault("ANSIBLE_FORCE_COLOR", "0")
        env.setdefault("ANSIBLE_NOCOLOR", "1")
        return env

    # -- looking at a host from outside (no Ansible) ------------------------------------------

    def exec(self, name: str, *cmd: str, check: bool = True, timeout: float = 120
             ) -> subprocess.CompletedProcess:
        """Run *cmd* in host *name* with ``podman exec`` (for assertions, not for the code under test)."""
        return self.podman.run("exec", self._host(name).container, *cmd, check=check, timeout=timeout)

    def fingerprint(self, name: str,
                    paths: Sequence[str] = ("/etc", "/usr/local/share/ca-certificates", "/root"),
                    exclude: Sequence[str] = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
                                              "/root/.ansible", "/root/.ssh/authorized_keys",
                                              "/etc/.pwd.lock"),
                    ) -> dict[str, str]:
        """Path -> "type mode uid gid sha256/target" for every file under *paths* on host *name*.

        Two fingerprints compare equal when the host's files are the same (contents, modes,
        ownership, symlink targets), which is what "returns the host to its first state" means.
        """
        script = r"""
import hashlib, json, os, stat, sys
paths, exclude = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
out = {}
def visit(p):
    if p in exclude:
        return
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    m = st.st_mode
    head = "%s %o %d %d" % ("l" if stat.S_ISLNK(m) else "d" if stat.S_ISDIR(m) else "f" if stat.S_ISREG(m) else "o",
                           stat.S_IMODE(m), st.st_uid, st.st_gid)
    if stat.S_ISLNK(m):
        out[p] = head + " -> " + os.readlink(p)
    elif stat.S_ISREG(m):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        out[p] = head + " " + h.hexdigest()
    elif stat.S_ISDIR(m):
        out[p] = head
        for e in sorted(os.listdir(p)):
            visit(os.path.join(p, e))
    else:
        out[p] = head
for p in paths:
    visit(p)
print(json.dumps(out))
"""
        res = self.exec(name, "/usr/bin/python3", "-c", script, json.dumps(list(paths)),
                        json.dumps(list(exclude)))
        return json.loads(res.stdout)

    # -- internals ----------------------------------------------------------------------------

    def _host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise HostBedError(f"no host {name!r} in this bed (have: {', '.join(self.hosts)})") from None

    def _create(self, host: Host) -> None:
        args = [
            "run", "--detach", "--name", host.container, "--hostname", host.name,
            "--network", NETWORK_NAME,
            "--add-host", f"{MIRROR_HOSTNAME}:{GATEWAY_IP}",
            "--label", f"{LABEL}={self.run_id}",
            "--label", f"{LABEL}.pid={os.getpid()}",
            "--volume", f"{self.public_key}:/root/.ssh/authorized_keys:ro",
        ]
        for u in ULIMITS:
            args += ["--ulimit", u]
        if host.with_podman:
            # Nested podman needs a writable cgroupfs, mounts, iptables in its own netns: privileged.
            # An anonymous volume puts the inner storage on a real file system (overlay works);
            # ``podman rm --volumes`` removes it with the container.
            args += ["--privileged", "--volume", "/var/lib/containers"]
        args += [self.image.ref, "/usr/bin/catatonit", "--", "/bin/sh", "-c",
                 "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e"]
        self.podman.run(*args, timeout=120)

    def _await_ready(self, host: Host, t0: float, timeout: float) -> None:
        host.ip = self.podman.container_ip(host.container)
        deadline = t0 + timeout
        last = "no attempt"
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host.ip, 22), timeout=2) as s:
                    banner = s.recv(64)
                if banner.startswith(b"SSH-"):
                    host.start_seconds = time.monotonic() - t0
                    return
                last = f"unexpected banner {banner!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.05)
        logs = self.podman.run("logs", host.container, check=False).stdout[-2000:]
        raise HostBedError(f"sshd of host {host.name} ({host.container}, {host.ip}) not ready after "
                           f"{timeout}s: {last}\ncontainer log:\n{logs}")


# --------------------------------------------------------------------------------------------
# The mirror registry the hosts reach, and images for it
# --------------------------------------------------------------------------------------------

class MirrorRegistry(Registry):
    """A :class:`support.registry.Registry` with TLS and htpasswd bound to the bridge gateway.

    Its certificate is for ``DNS:mirror.test`` and ``IP:10.88.0.1`` (plus what ``Registry`` always
    adds).  This machine uses ``host`` (``10.88.0.1:<port>``) as usual; the hosts use
    ``mirror_host`` (``mirror.test:<port>``, resolved through their ``--add-host``).
    """

    def __init__(self, workdir: os.PathLike | str, *, pki: PKI | None = None,
                 hostname: str = MIRROR_HOSTNAME, bind: str = GATEWAY_IP, **kwargs):
        workdir = Path(workdir)
        super().__init__(workdir, tls=True, auth=True, pki=pki or PKI(workdir / "pki"), bind=bind,
                         sans=[f"DNS:{hostname}", f"IP:{bind}", *kwargs.pop("sans", ())], **kwargs)
        self.hostname = hostname

    @property
    def mirror_host(self) -> str:
        """``mirror.test:<port>``: the registry as the hosts name it."""
        return f"{self.hostname}:{self.port}"

    def start(self, timeout: float = 15.0) -> MirrorRegistry:
        if not gateway_is_up(self.bind):
            raise HostBedError(f"{self.bind} is not an address of this machine; start a host first "
                               "(or call ensure_bridge) so the podman bridge exists")
        super().start(timeout)
        return self

    def host_auth_json(self) -> str:
        """containers auth.json text with this registry's credentials under ``mirror.test:<port>``
        (what a host's auth file / pull secret holds)."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return json.dumps({"auths": {self.mirror_host: {"auth": token}}}, indent=2) + "\n"

    def seed(self, image: images.Image, repository: str, tag: str | None = None) -> str:
        """Push *image* with skopeo (digests preserved); return its digest."""
        images.seed_registry(image, self, repository, tag)
        return image.digest


def _machine_platform() -> str:
    arch = platform.machine()
    return "linux/" + {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch)


def unique_image(layout: images.OCILayout, ref: str = "img") -> images.Image:
    """A small image no other test has (a text file and 4 KiB of random bytes)."""
    return images.build_image(layout, ref, platform=_machine_platform(), layers=[{
        "hello.txt": "airgap.mirror host bed test image\n",
        "random.bin": os.urandom(4096),
    }])


def httpd_image(layout: images.OCILayout, ref: str = "httpd", *, port: int = 8080,
                body: bytes = b"hello from the nested httpd\n", busybox: str = "/bin/busybox",
                files: dict[str, bytes] | None = None) -> images.Image:
    """A busybox httpd image serving ``/www/index.html`` (and *files*, paths under ``/www``) on
    *port* (the machine's static busybox from Debian ``busybox-static`` is its only binary)."""
    bb = Path(busybox)
    try:
        head = bb.read_bytes()[:4]
    except OSError as exc:
        raise HostBedError(f"cannot read {busybox} for the httpd test image ({exc}); "
                           "install it with: apt-get install -y busybox-static") from exc
    if head != b"\x7fELF":
        raise HostBedError(f"{busybox} is not an ELF binary; install busybox-static")
    with tempfile.TemporaryDirectory(prefix="httpd-rootfs-") as tmp:
        root = Path(tmp)
        (root / "bin").mkdir()
        (root / "www").mkdir()
        shutil.copy2(bb, root / "bin" / "busybox")
        for applet in ("sh", "httpd", "cat", "echo", "sleep"):
            (root / "bin" / applet).symlink_to("busybox")
        (root / "www" / "index.html").write_bytes(body)
        for name, content in (files or {}).items():
            (root / "www" / name).write_bytes(content)
        return images.build_rootfs_image(
            layout, ref, root, platform=_machine_platform(),
            entrypoint=["/bin/busybox", "httpd", "-f", "-v", "-p", str(port), "-h", "/www"],
            exposed_ports=[f"{port}/tcp"])


# --------------------------------------------------------------------------------------------
# Command line (scripts/build-host-image)
# --------------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/build-host-image [--rebuild] [--gc]``: build or reuse the host image."""
    import argparse

    ap = argparse.ArgumentParser(
        prog="build-host-image",
        description="Build (or reuse) the cached Debian host image of the test bed; print timings.")
    ap.add_argument("--rebuild", action="store_true",
                    help="delete this recipe's cached tarball and storage first (a cold build)")
    ap.add_argument("--gc", action="store_true", help="delete cached images of other recipes")
    args = ap.parse_args(argv)
    problems = missing_requirements()
    if problems:
        print("build-host-image: " + "; ".join(problems), file=sys.stderr)
        return 2
    try:
        key = recipe_key(image_recipe())
        for cdir in cached_images():
            if (args.rebuild and cdir.name == key) or (args.gc and cdir.name != key):
                t = time.monotonic()
                remove_cached_image(cdir)
                print(f"removed cached image {cdir} ({time.monotonic() - t:.1f}s)")
        img = host_image()
    except HostBedError as exc:
        print(f"build-host-image: {exc}", file=sys.stderr)
        return 1
    state = "built" if img.built else "imported from the cached tarball" if img.imported else "cached"
    print(f"{img.ref} ({state}; mmdebstrap {img.build_seconds:.1f}s, podman import "
          f"{img.import_seconds:.1f}s, total {img.total_seconds:.1f}s)")
    print(f"cache: {img.cache_dir}")
    print(f"podman: CONTAINERS_CONF={img.podman.containers_conf} "
          f"CONTAINERS_STORAGE_CONF={img.podman.storage_conf}")
    return 0
