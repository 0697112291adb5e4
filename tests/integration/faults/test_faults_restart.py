"""Fault matrix case 5: the destination registry restarted in the middle of a run.

distribution keeps an upload session in its storage (``_uploads``) and hands the client a state
token signed with ``http.secret``. With a fixed secret a session survives a restart; with another
secret (or none, which means a random one per start) every session is gone. The test bed's
registries use a fixed secret; these tests change it on purpose for the second kind.

The restart happens at a point the proxy holds: a PATCH of a chunked upload (or the PUT of a
monolithic one) waits at the proxy -- the registry has not seen it -- while the registry
restarts; then the held request is either forwarded (the client does not notice the restart
unless the session is gone) or reset (the client sees the connection break and must find out
where the session stands). Chunks are 2 MiB and the threshold 1 MiB so an 8 MiB blob has several.
"""

from __future__ import annotations

import time

import pytest

from .harness import MiB, audit_registry, failures, proxied_bed, run_engine, verify_registry_image

pytestmark = pytest.mark.integration

CHUNKED = {"chunked_threshold": MiB, "upload_chunk_size": 2 * MiB}


@pytest.fixture
def bed(registry_factory, proxy_factory, fault_images):
    bed = proxied_bed(registry_factory, proxy_factory, fault_images, big=("app/big", "1"))
    bed.layer = bed.big.layers[0]
    return bed


def _restart_while_held(bed, rule, new_secret=None, reset=False, **options):
    """Run the copy in a thread; when ``rule`` holds, restart the destination registry (with
    ``new_secret``: sessions die), then release the held request (``reset``: break it instead)."""
    import threading

    out = {}

    def work():
        out["report"], out["seconds"] = run_engine([f"{bed.psrc.host}/app/big:1"], bed.pdst.host,
                                                   insecure=bed.insecure, **options)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert rule.stalled.wait(30), "the held request never came"
        if new_secret:
            bed.dst.extra_config = {"http": {"secret": new_secret}}
        restarted = time.monotonic()
        bed.dst.restart()
        rule.release(reset=reset)
    finally:
        if not rule._released.is_set():
            rule.release()
        thread.join(120)
    assert not thread.is_alive()
    return out["report"], restarted


def _chunked(bed):
    """The exchanges of the big layer's chunked upload, in order (PATCHes, status GETs, its PUT),
    and the upload sessions (URL paths) they used. Other blobs are small and go monolithic."""
    hexpart = bed.layer.digest.split(":", 1)[1]
    found = [e for e in bed.pdst.exchanges(None, r"/blobs/uploads/.")
             if e.method in ("PATCH", "GET") or (e.method == "PUT" and hexpart in e.path)]
    sessions = []
    for e in found:
        path = e.path.split("?", 1)[0]
        if path not in sessions:
            sessions.append(path)
    return found, sessions


def test_restart_with_the_same_secret_keeps_the_upload_session(bed, tmp_path, recovery):
    rule = bed.pdst.add_rule("PATCH", r"/blobs/uploads/", skip=1, stall_request_after=0)
    report, restarted = _restart_while_held(bed, rule, reset=True, **CHUNKED)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    found, sessions = _chunked(bed)
    held = next(i for i, e in enumerate(found) if e.fault)
    after = found[held + 1:]
    assert len(sessions) == 1, sessions  # the session survived the restart ...
    assert (after[0].method, after[0].status) == ("GET", 204)
    assert after[1].method == "PATCH" and after[1].request_headers["content-range"] == \
        found[held].request_headers["content-range"]  # ... and goes on with the very chunk that broke
    assert (after[-1].method, after[-1].status) == ("PUT", 201)
    assert sum(e.bytes_in for e in found if e.method == "PATCH") == bed.layer.size  # nothing sent twice
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("5 registry restarted mid-upload, same http.secret", "complete; same upload session resumed",
             done - restarted)


def test_restart_with_another_secret_starts_a_new_session(bed, tmp_path, recovery):
    rule = bed.pdst.add_rule("PATCH", r"/blobs/uploads/", skip=1, stall_request_after=0)
    report, restarted = _restart_while_held(bed, rule, new_secret="rotated-" + str(time.time()), reset=True,
                                            **CHUNKED)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    found, sessions = _chunked(bed)
    held = next(i for i, e in enumerate(found) if e.fault)
    after = found[held + 1:]
    assert (after[0].method, after[0].status in (400, 404)) == ("GET", True)  # the session is gone
    assert len(sessions) == 2, sessions  # so a new one carried the blob, from byte 0
    new = [e for e in after if e.path.startswith(sessions[1])]
    assert new[0].request_headers["content-range"].startswith("0-")
    assert (new[-1].method, new[-1].status) == ("PUT", 201)
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("5 registry restarted mid-upload, new http.secret", "complete; session lost, new session",
             done - restarted)


def test_session_lost_between_chunks_is_not_mistaken_for_bad_content(bed, tmp_path, recovery):
    """The restart falls between two chunks and the next PATCH reaches the new registry, which no
    longer knows the session (BLOB_UPLOAD_INVALID): a lost session, not a content error."""
    rule = bed.pdst.add_rule("PATCH", r"/blobs/uploads/", skip=1, stall_request_after=0)
    report, restarted = _restart_while_held(bed, rule, new_secret="rotated-" + str(time.time()), **CHUNKED)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    found, sessions = _chunked(bed)
    held = next(i for i, e in enumerate(found) if e.fault)
    assert found[held].status in (400, 404)
    assert len(sessions) == 2, sessions
    assert (found[-1].method, found[-1].status) == ("PUT", 201) and found[-1].path.startswith(sessions[1])
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("5 registry restarted between chunks, new http.secret", "complete; new session",
             done - restarted)


def test_restart_mid_chunk_body(bed, tmp_path, recovery):
    """The registry dies while reading a chunk; what it wrote of it no longer matches the session
    state, so the session cannot continue -- the engine must start over, and tag nothing early."""
    rule = bed.pdst.add_rule("PATCH", r"/blobs/uploads/", skip=1, stall_request_after=MiB)
    report, restarted = _restart_while_held(bed, rule, **CHUNKED)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("5 registry restarted mid-chunk body", "complete; new session", done - restarted)


@pytest.mark.parametrize("secret", ["same", "rotated"])
def test_restart_during_a_monolithic_upload(bed, tmp_path, recovery, secret):
    rule = bed.pdst.add_rule("PUT", r"/blobs/uploads/.*digest=sha256(:|%3A)" + bed.layer.digest.split(":")[1],
                             stall_request_after=0)
    report, restarted = _restart_while_held(bed, rule, new_secret=None if secret == "same" else
                                            "rotated-" + str(time.time()))
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery(f"5 registry restarted before a monolithic PUT ({secret} secret)", "complete",
             done - restarted)
