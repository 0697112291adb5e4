"""Fixtures of the fault matrix (the checks and the engine harness are in ``harness.py``).

Times to recover are recorded with the ``recovery`` fixture and printed as a table at the end of
the run (and written as JSON to ``$AIRGAP_FAULTS_REPORT`` when set); ``docs/faults.md`` quotes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support import images
from support.faultproxy import FaultProxy
from support.tokenserver import TokenServer

MiB = 1 << 20

_RESULTS: list[dict] = []


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    terminalreporter.section("fault matrix: case -> outcome -> time to recover")
    for row in _RESULTS:
        terminalreporter.write_line(f"{row['case']:<62} {row['outcome']:<52} {row['seconds']:7.2f} s")
    path = os.environ.get("AIRGAP_FAULTS_REPORT")
    if path:
        Path(path).write_text(json.dumps(_RESULTS, indent=2) + "\n")


@pytest.fixture
def recovery():
    """``recovery(case, outcome, seconds)`` records one row of the table."""

    def record(case: str, outcome: str, seconds: float) -> None:
        _RESULTS.append({"case": case, "outcome": outcome, "seconds": round(float(seconds), 2)})

    return record


# -- parts -----------------------------------------------------------------------------------------

@pytest.fixture
def proxy_factory():
    """``proxy_factory(registry)`` -> a started :class:`FaultProxy`; all are stopped at teardown."""
    made: list[FaultProxy] = []

    def make(upstream) -> FaultProxy:
        proxy = FaultProxy(upstream).start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.stop()


@pytest.fixture
def token_server(tmp_path):
    """A started :class:`TokenServer` with one user (``.users``)."""
    server = TokenServer(tmp_path / "tokens", users={"mirror-bot": "tok-" + os.urandom(6).hex()}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_images(tmp_path_factory):
    """Images of the matrix, built once (deterministic digests):

    - ``multi``: an OCI index (linux/amd64 + linux/arm64) of small layers on a shared base;
    - ``big``: one 8 MiB (uncompressed, incompressible) layer;
    - ``app1``..``app3``: 1 MiB layers each, for throttled runs.
    """
    layout = images.OCILayout(tmp_path_factory.mktemp("fault-images") / "oci")
    base = images.add_layer(layout, {"etc/base": "base layer of the fault matrix\n"})
    out = {
        "multi": images.build_index(layout, "multi", base=base),
        "big": images.build_large_image(layout, "big", 8 * MiB, seed=81),
    }
    for n in (1, 2, 3):
        out[f"app{n}"] = images.build_large_image(layout, f"app{n}", 1 * MiB, seed=100 + n)
    return out
