"""Fault matrix case 6: the process SIGKILLed in the middle of a large copy, then the same task run
again -- through ``ansible-playbook`` and ``airgap.mirror.image_mirror``, as a user would.

The kill lands at a point the fault proxy holds (so it is the same point on every run): a blob
download held after some MiB (to disk), or the second 64 MiB chunk of a 136 MiB blob held before
the registry sees it (to a registry). The whole process tree goes (ansible-playbook, its worker,
the module), as with a power cut or the OOM killer.

The re-run must finish the job without re-sending the blobs that had completed (the proxies and
the registry's access log say what moved), continue a partial download with an HTTP Range request
from the very byte the partial file holds, and continue a chunked upload in its session where the
registry still knows it -- then clean up the resume state. A kill in the middle of a chunk's body
(the registry wrote part of it, so distribution drops the session) must fall back cleanly.
"""

from __future__ import annotations

import json
import stat
import time

import pytest

from support import images

from .harness import (MIRROR_PLAYBOOK, MiB, audit_layout, audit_registry, kill_tree, seed, start_playbook,
                      tags_of, verify_layout_image, verify_registry_image, wait_for)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HUGE = 136 * MiB       # above the module's upload_chunk_size (64 MiB): three chunks
CHUNK = 64 * MiB
LARGE = 24 * MiB


@pytest.fixture(scope="module")
def kill_images(tmp_path_factory):
    layout = images.OCILayout(tmp_path_factory.mktemp("kill-images") / "oci")
    return {
        "large": images.build_large_image(layout, "large", LARGE, seed=61),
        "huge": images.build_large_image(layout, "huge", HUGE, seed=62),
    }


@pytest.fixture(scope="module")
def kill_source(tmp_path_factory, fault_images, kill_images):
    """One source registry for the module, seeded once (the 136 MiB image takes a while)."""
    from support.fixtures import require
    from support.registry import REGISTRY_BIN, Registry

    require(REGISTRY_BIN, "skopeo")
    src = Registry(tmp_path_factory.mktemp("kill-source") / "registry").start()
    seed(fault_images["multi"], src, "app/multi", "2")
    seed(kill_images["large"], src, "app/large", "1")
    seed(kill_images["huge"], src, "app/huge", "1")
    yield src
    src.stop()


def _module_result(res):
    record = res.one("Mirror the images")
    return record["result"]


def test_killed_copy_to_disk_resumes_with_range(kill_source, proxy_factory, fault_images, kill_images,
                                                ansible_run, tmp_path, recovery):
    psrc = proxy_factory(kill_source)
    layer = kill_images["large"].layers[0]
    hexpart = layer.digest.split(":", 1)[1]
    hold = psrc.add_rule("GET", "/blobs/" + layer.digest, stall_response_after=6 * MiB)
    layout = tmp_path / "transfer" / "images"
    mirror_args = {"images": [f"{psrc.host}/app/multi:2", f"{psrc.host}/app/large:1"], "dest": f"oci:{layout}",
                   "insecure_registries": [psrc.host], "mirror_map": str(tmp_path / "transfer" / "mirror-map.yml"),
                   "concurrency": 4}
    small = [d for d in fault_images["multi"].blobs() if d != fault_images["multi"].digest]

    proc = start_playbook(tmp_path / "killed", MIRROR_PLAYBOOK, {"mirror_args": mirror_args})
    try:
        assert hold.stalled.wait(90), (tmp_path / "killed" / "killed-run.log").read_text()
        wait_for(lambda: all((layout / "blobs" / "sha256" / d.split(":")[1]).exists() for d in small), 30,
                 "the small image's blobs")
        time.sleep(0.3)  # let the writer hand what it has to the file system
    finally:
        killed = kill_tree(proc)
        hold.release()
    assert proc.returncode == -9
    assert len(killed) >= 3, killed  # ansible-playbook, its worker, the module (and its shell)

    partial = layout / ".airgap-state" / "partial" / f"sha256-{hexpart}"
    have = partial.stat().st_size
    # the proxy holds after the 64 KiB block that reaches 6 MiB; the partial holds what arrived
    assert 0 < have <= 6 * MiB + 64 * 1024, have
    assert not (layout / "blobs" / "sha256" / hexpart).exists()  # never a half-written blob under its digest
    assert audit_layout(layout) == []  # index.json names only complete images

    mark = psrc.mark()
    res = ansible_run.playbook(MIRROR_PLAYBOOK, extra_vars={"mirror_args": mirror_args})
    assert res.rc == 0, res.output
    result = _module_result(res)

    blob_gets = psrc.exchanges("GET", r"/blobs/sha256:", since=mark)
    assert [(e.path.rsplit("/", 1)[1], e.range, e.status) for e in blob_gets] == \
        [(layer.digest, f"bytes={have}-", 206)], "only the rest of the partial blob may be fetched"
    assert blob_gets[0].bytes_out == layer.size - have
    verify_layout_image(layout, f"{psrc.host}/app/large:1", kill_images["large"].digest, tmp_path)
    verify_layout_image(layout, f"{psrc.host}/app/multi:2", fault_images["multi"].digest, tmp_path)
    assert audit_layout(layout) == []
    assert not (layout / ".airgap-state").exists(), "resume state must go once the copy is complete"
    recovery("6 SIGKILL mid-copy to disk, then re-run",
             f"complete; Range from byte {have}, 0 completed blobs re-fetched",
             result["totals"]["seconds"])


def _upload_exchanges(proxy, hexpart, since=0):
    """The huge blob's chunked upload: PATCHes, status GETs, its PUT (other blobs go monolithic)."""
    return [e for e in proxy.exchanges(None, r"/blobs/uploads/.", since=since)
            if e.method in ("PATCH", "GET") or (e.method == "PUT" and hexpart in e.path)]


@pytest.mark.parametrize("where", ["between-chunks", "mid-chunk"])
def test_killed_copy_to_registry_resumes_the_upload(kill_source, registry_factory, proxy_factory, fault_images,
                                                    kill_images, ansible_run, tmp_path, recovery, where):
    dst = registry_factory()
    psrc, pdst = proxy_factory(kill_source), proxy_factory(dst)
    layer = kill_images["huge"].layers[0]
    hexpart = layer.digest.split(":", 1)[1]
    # hold the second chunk: before the registry sees any of it, or after 5 MiB of its body
    hold = pdst.add_rule("PATCH", r"/blobs/uploads/", skip=1,
                         stall_request_after=0 if where == "between-chunks" else 5 * MiB)
    state = tmp_path / "mirror" / ".airgap-state"
    mirror_args = {"images": [f"{psrc.host}/app/multi:2", f"{psrc.host}/app/huge:1"], "dest": pdst.host,
                   "insecure_registries": [psrc.host, pdst.host],
                   "mirror_map": str(tmp_path / "mirror" / "mirror-map.yml"), "concurrency": 4}

    proc = start_playbook(tmp_path / "killed", MIRROR_PLAYBOOK, {"mirror_args": mirror_args})
    try:
        assert hold.stalled.wait(120), (tmp_path / "killed" / "killed-run.log").read_text()
        wait_for(lambda: tags_of(dst, "app/multi") == ["2"], 30, "the small image to be pushed")
    finally:
        killed = kill_tree(proc)
        hold.release(reset=True)
    assert proc.returncode == -9
    assert len(killed) >= 3, killed

    # the state a re-run needs: the session of the huge blob, 0600
    records = [json.loads(p.read_text()) for p in (state / "uploads").glob("*.json")]
    assert [(r["repository"], r["digest"]) for r in records] == [("app/huge", layer.digest)]
    for path in (state / "uploads").glob("*.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tags_of(dst, "app/huge") == []  # nothing tagged before its blobs are complete
    assert audit_registry(dst) == []
    before = _upload_exchanges(pdst, hexpart)
    acknowledged = sum(e.bytes_in for e in before if e.method == "PATCH" and e.status == 202)
    assert acknowledged == CHUNK

    mark_dst, mark_src, mark_log = pdst.mark(), psrc.mark(), dst.mark()
    res = ansible_run.playbook(MIRROR_PLAYBOOK, extra_vars={"mirror_args": mirror_args})
    assert res.rc == 0, res.output
    result = _module_result(res)

    # blobs that had completed are not sent again: no session is opened or fed for any of them (a
    # POST asking for one, mounting it from its own repository, must be answered 201). The query
    # string is URL-encoded: match the digests' hex parts.
    small = {d.split(":")[1] for d in fault_images["multi"].blobs() if d != fault_images["multi"].digest}
    asked = [r for r in dst.blob_uploads(since=mark_log) if any(h in r.path for h in small)]
    assert all((r.method, r.status) == ("POST", 201) for r in asked), asked
    after = _upload_exchanges(pdst, hexpart, since=mark_dst)
    patches = [e for e in after if e.method == "PATCH"]
    source_gets = psrc.exchanges("GET", "/blobs/" + layer.digest, since=mark_src)
    if where == "between-chunks":
        # the registry still knows the session: the re-run asks where it stands and continues
        assert (after[0].method, after[0].status) == ("GET", 204), [(e.method, e.status) for e in after]
        assert patches[0].request_headers["content-range"].startswith(f"{CHUNK}-")
        assert not pdst.exchanges("POST", r"/blobs/uploads/$", since=mark_dst)
        assert sum(e.bytes_in for e in patches) == layer.size - CHUNK
        # and reads the source from there on (one ranged read per chunk), never from byte 0
        assert source_gets[0].range == f"bytes={CHUNK}-" and all(e.range for e in source_gets)
        outcome = f"complete; same upload session, {(layer.size - CHUNK) // MiB} of {layer.size // MiB} MiB re-sent"
    else:
        # part of a chunk reached the registry: distribution dropped the session; start over cleanly
        assert (after[0].method, after[0].status in (400, 404)) == ("GET", True), \
            [(e.method, e.status) for e in after]
        assert patches[0].request_headers["content-range"].startswith("0-")
        outcome = "complete; registry had dropped the session, blob re-sent in a new one"
    assert (after[-1].method, after[-1].status) == ("PUT", 201)
    verify_registry_image(dst, "app/huge:1", kill_images["huge"].digest, tmp_path)
    verify_registry_image(dst, "app/multi:2", fault_images["multi"].digest, tmp_path)
    assert audit_registry(dst) == []
    assert not state.exists(), "resume state must go once the copy is complete"
    recovery(f"6 SIGKILL mid-copy to a registry ({where}), then re-run", outcome, result["totals"]["seconds"])


def test_killed_before_the_first_chunk_reached_the_registry(kill_source, registry_factory, proxy_factory,
                                                            kill_images, ansible_run, tmp_path, recovery):
    """The D1 window: the session is open, the first PATCH is on its way but the registry has not
    seen a byte of it (the proxy holds it before forwarding anything), and the process dies. A
    fresh distribution session answers its status GET with ``Range: 0-0`` -- as after one byte --
    so nothing may be recorded before the registry acknowledged a chunk, and the re-run must start
    the blob from byte 0, complete, and be right."""
    dst = registry_factory()
    psrc, pdst = proxy_factory(kill_source), proxy_factory(dst)
    layer = kill_images["large"].layers[0]
    hexpart = layer.digest.split(":", 1)[1]
    hold = pdst.add_rule("PATCH", r"/blobs/uploads/", stall_request_after=0)
    state = tmp_path / "mirror" / ".airgap-state"
    mirror_args = {"images": [f"{psrc.host}/app/large:1"], "dest": pdst.host,
                   "insecure_registries": [psrc.host, pdst.host], "upload_chunk_size": "8M",
                   "mirror_map": str(tmp_path / "mirror" / "mirror-map.yml"), "verify": True,
                   "use_mirror_map": False}

    proc = start_playbook(tmp_path / "killed", MIRROR_PLAYBOOK, {"mirror_args": mirror_args})
    try:
        assert hold.stalled.wait(120), (tmp_path / "killed" / "killed-run.log").read_text()
    finally:
        killed = kill_tree(proc)
        hold.release(reset=True)
    assert proc.returncode == -9
    assert len(killed) >= 3, killed
    before = _upload_exchanges(pdst, hexpart)
    assert [e.status for e in before if e.method == "PATCH" and e.status == 202] == []  # no chunk acknowledged
    assert list(state.glob("uploads/*.json")) == [], "a session no chunk of which was acknowledged is not recorded"

    mark_dst = pdst.mark()
    res = ansible_run.playbook(MIRROR_PLAYBOOK, extra_vars={"mirror_args": mirror_args})
    assert res.rc == 0, res.output
    result = _module_result(res)
    after = _upload_exchanges(pdst, hexpart, since=mark_dst)
    patches = [e for e in after if e.method == "PATCH"]
    assert patches[0].request_headers["content-range"].startswith("0-"), \
        [(e.method, e.status, e.request_headers.get("content-range")) for e in after]
    assert sum(e.bytes_in for e in patches) == layer.size
    assert (after[-1].method, after[-1].status) == ("PUT", 201)
    verify_registry_image(dst, "app/large:1", kill_images["large"].digest, tmp_path)
    assert audit_registry(dst) == []
    assert not state.exists(), "resume state must go once the copy is complete"
    recovery("6 SIGKILL before the registry saw a byte of the first chunk, then re-run",
             "complete; nothing recorded, blob sent from byte 0 in a new session", result["totals"]["seconds"])
