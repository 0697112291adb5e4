"""pytest fixtures of the test bed (loaded by ``pytest_plugins = ["support.fixtures"]`` in
tests/conftest.py).

Session-wide, shared by every test (use unique repository names, e.g. the test's name):

- ``pki`` -- :class:`support.pki.PKI`, one test CA for the session;
- ``plain_registry`` -- a plain-HTTP :class:`support.registry.Registry` on 127.0.0.1;
- ``tls_registry`` -- TLS + htpasswd registry (``.username``/``.password``, ``.ca_path``,
  ``.cert_dir()``), certificate SANs include ``DNS:mirror.test``;
- ``sample_layout`` -- :class:`support.images.SampleSet`, the demo's images built once.

Per test:

- ``registry_factory(**kwargs)`` -- a fresh, started registry under the test's tmp dir (keyword
  arguments of :class:`~support.registry.Registry`; ``tls=True`` uses the session ``pki``;
  ``start=False`` to start it yourself); all are stopped at teardown. Use it when a test
  restarts, stops, garbage-collects or counts requests on a registry of its own;
- ``skopeo`` -- the :mod:`support.skopeo` module (after checking the binary exists);
- ``ansible_run`` -- an :class:`support.ansible_run.AnsibleRunner` in the test's tmp dir.

A missing binary fails the test (never skips) and names the Debian package to install.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from . import skopeo as skopeo_module
from .ansible_run import AnsibleRunner
from .images import SampleSet, sample_set
from .pki import PKI
from .registry import REGISTRY_BIN, Registry

# binary -> Debian package that provides it
REQUIRED_BINARIES = {
    REGISTRY_BIN: "docker-registry",
    "skopeo": "skopeo",
    "htpasswd": "apache2-utils",
    "openssl": "openssl",
}


def require(*binaries: str) -> None:
    """``pytest.fail`` (not skip) if a binary is missing, naming the apt package to install."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        packages = " ".join(sorted({REQUIRED_BINARIES.get(b, b) for b in missing}))
        pytest.fail(f"test bed binaries missing: {', '.join(missing)}; install them with "
                    f"`apt-get install -y --no-install-recommends {packages}` (or run scripts/bootstrap)",
                    pytrace=False)


@pytest.fixture(scope="session")
def testbed_dir(tmp_path_factory):
    """A session-wide scratch directory for the shared parts of the test bed."""
    return tmp_path_factory.mktemp("testbed")


@pytest.fixture(scope="session")
def pki(testbed_dir) -> PKI:
    require("openssl")
    return PKI(testbed_dir / "pki")


@pytest.fixture(scope="session")
def plain_registry(testbed_dir):
    require(REGISTRY_BIN)
    registry = Registry(testbed_dir / "plain-registry")
    registry.start()
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def tls_registry(testbed_dir, pki):
    require(REGISTRY_BIN, "htpasswd")
    registry = Registry(testbed_dir / "tls-registry", tls=True, auth=True, pki=pki,
                        username="airgap-test", password=secrets.token_urlsafe(16), sans=["DNS:mirror.test"])
    registry.start()
    yield registry
    registry.stop()


@pytest.fixture
def registry_factory(tmp_path, pki):
    require(REGISTRY_BIN)
    made: list[Registry] = []

    def make(*, start: bool = True, **kwargs) -> Registry:
        if kwargs.get("auth"):
            require("htpasswd")
        if kwargs.get("tls"):
            kwargs.setdefault("pki", pki)
        registry = Registry(tmp_path / f"registry-{len(made) + 1}", **kwargs)
        made.append(registry)
        if start:
            registry.start()
        return registry

    yield make
    for registry in made:
        registry.stop()


@pytest.fixture(scope="session")
def sample_layout(tmp_path_factory) -> SampleSet:
    return sample_set(tmp_path_factory.mktemp("samples") / "oci")


@pytest.fixture
def skopeo():
    require("skopeo")
    return skopeo_module


@pytest.fixture
def ansible_run(tmp_path) -> AnsibleRunner:
    return AnsibleRunner(tmp_path / "ansible")


@pytest.fixture
def tmpfs_mib(tmp_path):
    """``tmpfs(size_mib)`` -> a fresh tmpfs mounted under the test's tmp dir (unmounted at the end)."""
    mounts = []

    def make(size_mib: int, name: str = "small-disk") -> Path:
        target = tmp_path / name
        target.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0755", "tmpfs", str(target)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            pytest.fail(f"cannot mount a {size_mib} MiB tmpfs on {target} (the disk-full cases need root): "
                        f"{proc.stderr.strip()}", pytrace=False)
        mounts.append(target)
        return target

    yield make
    for target in reversed(mounts):
        subprocess.run(["umount", str(target)], capture_output=True, check=False)
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
