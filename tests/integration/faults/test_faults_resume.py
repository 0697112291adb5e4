"""Fault matrix case 6, without a kill: resume records and upload sessions that must not be trusted.

A chunked upload continues an existing session only where the registry's status answer is exact
and agrees with what the client knows. distribution 2.8 answers ``Range: 0-0`` both for an empty
session and after one byte, and it appends a ``PATCH`` at its own offset whatever its
``Content-Range`` says: an upload resumed at byte 1 of an empty session stores the blob minus its
first byte, and its final ``PUT`` fails with ``DIGEST_INVALID`` -- after which distribution keeps
the session (its clean-up of a failed commit fails on the committed file writer), complete but
wrong. These cases build such sessions by hand on the real registry, point a resume record at them
(as a killed run would have left it) and check that the next run heals: the session is cancelled,
the record dropped, the blob sent from byte 0 in a new session, skopeo reads the right digest, and
no record is left that could make a later run fail.

The blob is the 8 MiB layer of ``big``; chunks are 2 MiB and the threshold 1 MiB.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.resume import UploadSessions

from .harness import MiB, audit_registry, failures, proxied_bed, run_engine, verify_registry_image

pytestmark = pytest.mark.integration

CHUNK = 2 * MiB
CHUNKED = {"chunked_threshold": MiB, "upload_chunk_size": CHUNK}


@pytest.fixture
def bed(registry_factory, proxy_factory, fault_images, tmp_path):
    bed = proxied_bed(registry_factory, proxy_factory, fault_images, big=("app/big", "1"))
    bed.layer = bed.big.layers[0]
    bed.blob = bed.big.layout.blob_path(bed.layer.digest).read_bytes()
    bed.state = tmp_path / "state"
    return bed


def _open_session(bed) -> str:
    """A new upload session of app/big on the destination, addressed through its proxy."""
    status, headers, _b = bed.dst.request("POST", f"http://{bed.pdst.host}/v2/app/big/blobs/uploads/", data=b"")
    assert status == 202
    return headers["Location"]


def _patch(bed, location: str, data: bytes) -> str:
    status, headers, body = bed.dst.request("PATCH", location, data=data,
                                            headers={"Content-Type": "application/octet-stream"})
    assert status == 202, body
    return headers["Location"]


def _record(bed, location: str, offset: int | None) -> None:
    """The record a killed run leaves (``offset`` None: as versions before 2026-12 wrote it)."""
    key = f"{bed.pdst.host}/app/big@{bed.layer.digest}"
    path = bed.state / "uploads" / (hashlib.sha256(key.encode()).hexdigest()[:40] + ".json")
    path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    record = {"registry": bed.pdst.host, "repository": "app/big", "digest": bed.layer.digest, "location": location}
    if offset is not None:
        record["offset"] = offset
    path.write_text(json.dumps(record))
    os.chmod(path, 0o600)


def _run(bed):
    return run_engine([f"{bed.psrc.host}/app/big:1"], bed.pdst.host, insecure=bed.insecure,
                      sessions=UploadSessions(bed.state), **CHUNKED)


def _layer_exchanges(bed, since=0):
    """The big layer's chunked upload as the destination proxy saw it (POSTs of small blobs and
    their monolithic PUTs left out)."""
    hexpart = bed.layer.digest.split(":", 1)[1]
    return [e for e in bed.pdst.exchanges(None, r"/blobs/uploads/.", since=since)
            if e.method in ("PATCH", "GET", "DELETE") or (e.method == "PUT" and hexpart in e.path)]


def _sessions(exchanges) -> list[str]:
    out = []
    for e in exchanges:
        path = e.path.split("?", 1)[0]
        if path not in out:
            out.append(path)
    return out


def _assert_healed(bed, tmp_path, report, stale: str, since: int):
    """Complete and right, the stale session cancelled, a new one fed from byte 0, no record left."""
    assert report["failed"] == [], failures(report)
    found = _layer_exchanges(bed, since)
    sessions = _sessions(found)
    stale_path = stale.split("?", 1)[0].split("://", 1)[1].split("/", 1)[1]
    assert sessions[0].endswith(stale_path) and len(sessions) == 2, sessions
    new = [e for e in found if e.path.startswith(sessions[1])]
    assert new[0].method == "PATCH" and new[0].request_headers["content-range"].startswith("0-"), \
        [(e.method, e.status, e.request_headers.get("content-range")) for e in found]
    assert sum(e.bytes_in for e in new if e.method == "PATCH") == bed.layer.size
    assert (new[-1].method, new[-1].status) == ("PUT", 201)
    # the stale session is gone from the registry, not left to be resumed again
    assert any(e.method == "DELETE" and e.path.startswith(sessions[0]) for e in found) or \
        any(e.method == "GET" and e.status == 404 and e.path.startswith(sessions[0]) for e in found)
    status, _h, _b = bed.dst.request("GET", stale)
    assert status == 404, "the stale session must not survive"
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    assert not bed.state.exists(), "no resume record may be left behind"


@pytest.mark.parametrize("record_offset", [None, CHUNK], ids=["record-without-offset", "record-claims-a-chunk"])
def test_an_empty_session_is_not_resumed_at_byte_1(bed, tmp_path, recovery, record_offset):
    """The D1 state: the record points at a session the registry holds nothing of (the run was
    killed before the first chunk reached the registry). Its status is ``204, Range: 0-0``."""
    stale = _open_session(bed)
    status, headers, _b = bed.dst.request("GET", stale)
    assert (status, headers.get("Range")) == (204, "0-0")  # the ambiguous answer itself
    _record(bed, stale, record_offset)

    mark, started = bed.pdst.mark(), time.monotonic()
    report, _s = _run(bed)
    _assert_healed(bed, tmp_path, report, stale, mark)
    recovery("6 resume record of an empty session (Range 0-0)", "complete; session dropped, new one from byte 0",
             time.monotonic() - started)


@pytest.mark.parametrize("stored", ["one-chunk", "whole-length"])
def test_a_session_holding_wrong_bytes_is_healed(bed, tmp_path, recovery, stored):
    """The record agrees with the registry's offset, but the session holds the blob shifted by
    one byte (what a resume at byte 1 stores): the final PUT is refused with DIGEST_INVALID, once;
    the engine drops the session and sends the blob from byte 0. ``whole-length`` is the state the
    old engine left behind, which made every later run fail."""
    wrong = bed.blob[1:] + bed.blob[:1]
    stale = _open_session(bed)
    if stored == "one-chunk":
        location, offset = _patch(bed, stale, wrong[:CHUNK]), CHUNK
    else:
        location = stale
        for start in range(0, len(wrong), CHUNK):
            location = _patch(bed, location, wrong[start:start + CHUNK])
        offset = None  # as the old engine recorded it
    _record(bed, location, offset)

    mark, started = bed.pdst.mark(), time.monotonic()
    report, _s = _run(bed)
    found = _layer_exchanges(bed, mark)
    refused = [e for e in found if e.method == "PUT" and e.status == 400]
    assert len(refused) == 1, [(e.method, e.status) for e in found]  # the resumed session's PUT, once
    _assert_healed(bed, tmp_path, report, location, mark)
    recovery(f"6 resume record of a session with wrong bytes ({stored})",
             "complete; DIGEST_INVALID once, session dropped, blob re-sent from byte 0", time.monotonic() - started)


def test_a_session_that_cannot_be_healed_fails_clearly_and_leaves_no_record(bed, tmp_path):
    """The resumed session holds wrong bytes AND the source serves corrupted bytes: the heal is
    tried once, then the error names the image, the blob and both attempts; no record is left, so
    the next run (source repaired) completes."""
    wrong = bed.blob[1:] + bed.blob[:1]
    location = _patch(bed, _open_session(bed), wrong[:CHUNK])
    _record(bed, location, CHUNK)
    corrupt = bed.psrc.add_rule("GET", "/blobs/" + bed.layer.digest, corrupt_at=-1, times=None)

    mark = bed.pdst.mark()
    report, _s = _run(bed)
    errors = failures(report)
    message = errors[f"{bed.psrc.host}/app/big:1"]
    assert bed.layer.digest in message and "DIGEST_INVALID" in message, message
    assert "sent again from byte 0 in a new upload session" in message, message
    puts = [e for e in _layer_exchanges(bed, mark) if e.method == "PUT"]
    assert [e.status for e in puts] == [400, 400], [(e.method, e.status) for e in puts]  # bounded: one heal
    assert not list(bed.state.glob("uploads/*.json")), "no record may be left to fail the next run"
    assert audit_registry(bed.dst) == []

    corrupt.times = 0  # the source is repaired
    report, _s = _run(bed)
    assert report["failed"] == [], failures(report)
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert not bed.state.exists()


def test_first_chunk_broken_before_the_registry_read_a_byte(bed, tmp_path, recovery):
    """The same ambiguity within one run: the first PATCH breaks after its head reached the
    registry and before any byte of its body did. distribution keeps the session with 0 bytes and
    answers the status GET with ``Range: 0-0``: the engine must not continue at byte 1."""
    bed.pdst.add_rule("PATCH", r"/blobs/uploads/", reset_request_after=0)
    started = time.monotonic()
    report, _s = _run(bed)

    assert report["failed"] == [], failures(report)
    found = _layer_exchanges(bed)
    patches = [e for e in found if e.method == "PATCH" and not e.fault]
    assert patches[0].request_headers["content-range"].startswith("0-"), \
        [(e.method, e.status, e.request_headers.get("content-range")) for e in found]
    assert [e.status for e in found if e.method == "PUT"] == [201]
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    assert not bed.state.exists()
    recovery("1 first chunk broken before the registry read a byte", "complete; new session from byte 0",
             time.monotonic() - started)
