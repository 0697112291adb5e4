"""pytest plugin: the host test bed (tests/support/hosts.py) as fixtures.

Register it in ``tests/conftest.py`` (``pytest_plugins = [..., "support.hosts_fixtures"]``).

Fixtures:

``host_image`` (session)
    The cached Debian bookworm host image (:class:`hosts.HostImage`); built with mmdebstrap and
    imported into a private podman storage the first time, reused afterwards.
``debian_hosts`` (function)
    A factory: ``bed = debian_hosts(2, "node", host_vars=[{...}, {...}], groups=("mirror",),
    with_podman=False)`` starts hosts and returns the test's :class:`hosts.HostBed` (one bed per
    test; later calls add hosts to it).  ``bed.inventory`` is the inventory path, ``bed.hosts`` the
    hosts by name, ``bed.reset_host(name)`` recreates one pristine host.  Containers are removed at
    teardown.
``hosts_mirror_registry`` (function)
    A running TLS + htpasswd registry bound to the bridge gateway (``10.88.0.1:<port>``) with a
    certificate for ``DNS:mirror.test,IP:10.88.0.1`` (:class:`hosts.MirrorRegistry`, a
    :class:`support.registry.Registry`): ``.mirror_host`` (``mirror.test:<port>``, what the hosts
    use), ``.host`` (``10.88.0.1:<port>``, what this machine uses), ``.ca_path``, ``.username``,
    ``.password``, ``.host_auth_json()``, ``.seed(image, repo, tag)`` and all of ``Registry``
    (request accounting, restart, ...).  Its CA is one per session (``hosts_pki``).

A machine without the real parts fails the test with the packages to install; nothing is skipped.
"""

from __future__ import annotations

import pytest

from . import hosts
from .pki import PKI
from .registry import RegistryError


def _fail_unless_ready() -> None:
    problems = hosts.missing_requirements()
    if problems:
        pytest.fail("host test bed unavailable: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def host_image() -> hosts.HostImage:
    _fail_unless_ready()
    try:
        return hosts.host_image()
    except hosts.HostBedError as exc:
        pytest.fail(f"cannot build the host image: {exc}", pytrace=False)


@pytest.fixture
def debian_hosts(host_image, tmp_path):
    beds: list[hosts.HostBed] = []

    def start(n: int = 1, prefix: str = "host", *, host_vars=None, groups=(), with_podman=False,
              timeout: float = 60) -> hosts.HostBed:
        if not beds:
            beds.append(hosts.HostBed(host_image, tmp_path / "hostbed"))
        bed = beds[0]
        try:
            bed.start_hosts(n, prefix, host_vars=host_vars, groups=groups, with_podman=with_podman,
                            timeout=timeout)
        except hosts.HostBedError as exc:
            pytest.fail(f"cannot start hosts: {exc}", pytrace=False)
        return bed

    yield start
    for bed in beds:
        bed.close()


@pytest.fixture(scope="session")
def hosts_pki(tmp_path_factory) -> PKI:
    return PKI(tmp_path_factory.mktemp("hosts-pki"), ca_name="airgap.mirror host bed test CA")


@pytest.fixture
def hosts_mirror_registry(host_image, hosts_pki, tmp_path):
    try:
        hosts.ensure_bridge(host_image)
        reg = hosts.MirrorRegistry(tmp_path / "hosts-mirror", pki=hosts_pki).start()
    except (hosts.HostBedError, RegistryError) as exc:
        pytest.fail(f"cannot start the hosts' mirror registry: {exc}", pytrace=False)
    try:
        yield reg
    finally:
        reg.stop()
