"""Fault matrix cases 1-3: connection resets mid-blob, bursts of 5xx and 429, corrupted source bytes.

The engine runs in this process against real registries with the fault proxy in between. A case
passes when the mirror is complete and skopeo verifies it, or when the error names the image and
the cause -- and in both cases the destination audit finds no tag, index or index.json entry that
points at something missing, and no blob whose bytes do not match its digest.
"""

from __future__ import annotations

import email.utils
import time

import pytest

from .harness import (MiB, audit_layout, audit_registry, failures, proxied_bed, run_engine, tags_of,
                      verify_layout_image, verify_registry_image)

pytestmark = pytest.mark.integration


@pytest.fixture
def bed(registry_factory, proxy_factory, fault_images):
    """A source and a destination registry, each behind its own fault proxy, the ``big`` and
    ``multi`` images in the source."""
    bed = proxied_bed(registry_factory, proxy_factory, fault_images, big=("app/big", "1"), multi=("app/multi", "2"))
    bed.layer = bed.big.layers[0]
    return bed


def _fault_time(proxy, rule_text_part):
    faulted = [e for e in proxy.exchanges() if e.fault and rule_text_part in e.fault]
    assert faulted, "the fault was never injected"
    return faulted[0].ended


# -- 1. connection reset mid-blob ------------------------------------------------------------------

def test_connection_dropped_mid_download_resumes_with_range(bed, tmp_path, recovery):
    """The connection ends after exactly 3 MiB of an 8 MiB blob: the engine asks for the rest with
    ``Range: bytes=3145728-`` and not one byte is downloaded twice."""
    cut = 3 * MiB
    bed.psrc.add_rule("GET", "/blobs/" + bed.layer.digest, cut_response_after=cut)
    layout = tmp_path / "out"
    report, _s = run_engine([f"{bed.psrc.host}/app/big:1"], f"oci:{layout}", insecure=bed.insecure)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    gets = bed.psrc.exchanges("GET", "/blobs/" + bed.layer.digest)
    assert [(e.status, e.range) for e in gets] == [(200, None), (206, f"bytes={cut}-")]
    assert gets[0].bytes_out == cut and gets[1].bytes_out == bed.layer.size - cut
    verify_layout_image(layout, f"{bed.psrc.host}/app/big:1", bed.big.digest, tmp_path)
    assert audit_layout(layout) == []
    assert not (layout / ".airgap-state").exists(), "resume state must be cleaned up after a complete copy"
    recovery("1 connection dropped mid-blob, download (registry -> layout)",
             f"complete; resumed with Range from byte {cut}", done - gets[0].ended)


@pytest.mark.parametrize("dest_kind", ["layout", "registry"])
def test_reset_mid_download(bed, tmp_path, recovery, dest_kind):
    """A TCP reset after 6 MiB: what was still in flight is lost, so the engine resumes from what
    it had received (a Range request) -- or, if it had nothing usable yet, from the start."""
    cut = 6 * MiB
    bed.psrc.add_rule("GET", "/blobs/" + bed.layer.digest, reset_response_after=cut)
    layout = tmp_path / "out"
    dest = f"oci:{layout}" if dest_kind == "layout" else bed.pdst.host
    report, _s = run_engine([f"{bed.psrc.host}/app/big:1"], dest, insecure=bed.insecure)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    gets = bed.psrc.exchanges("GET", "/blobs/" + bed.layer.digest)
    assert len(gets) == 2 and gets[0].fault and gets[0].bytes_out == cut
    retry = gets[1]
    if retry.range:
        offset = int(retry.range[len("bytes="):].rstrip("-"))
        assert 0 < offset <= cut and retry.status == 206 and retry.bytes_out == bed.layer.size - offset
        how = f"resumed with Range from byte {offset}"
    else:
        assert retry.status == 200 and retry.bytes_out == bed.layer.size
        how = "nothing usable had arrived; fetched again"
    if dest_kind == "layout":
        verify_layout_image(layout, f"{bed.psrc.host}/app/big:1", bed.big.digest, tmp_path)
        assert audit_layout(layout) == []
    else:
        verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
        assert audit_registry(bed.dst) == []
    recovery(f"1 TCP reset mid-blob, download (registry -> {dest_kind})", f"complete; {how}",
             done - gets[0].ended)


def test_manifest_body_cut_short_is_fetched_again(bed, tmp_path, recovery):
    """The connection ends 16 bytes into the body of the index: the engine asks for the manifest
    again (there is nothing to resume in a document this small) and the copy completes."""
    path = r"/app/multi/manifests/2$"
    bed.psrc.add_rule("GET", path, cut_response_after=16)
    report, _s = run_engine([f"{bed.psrc.host}/app/multi:2"], bed.pdst.host, insecure=bed.insecure)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    gets = bed.psrc.exchanges("GET", path)
    assert len(gets) == 2 and gets[0].fault and gets[0].bytes_out == 16
    assert gets[1].status == 200 and not gets[1].fault and gets[1].bytes_out > 16
    verify_registry_image(bed.dst, "app/multi:2", bed.multi.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("1 connection dropped mid-manifest (registry -> registry)", "complete; the manifest fetched again",
             done - gets[0].ended)


def test_reset_mid_upload_monolithic(bed, tmp_path, recovery):
    hexpart = bed.layer.digest.split(":", 1)[1]
    bed.pdst.add_rule("PUT", r"/blobs/uploads/.*" + hexpart, reset_request_after=3 * MiB)
    report, _s = run_engine([f"{bed.psrc.host}/app/big:1"], bed.pdst.host, insecure=bed.insecure)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    puts = bed.pdst.exchanges("PUT", r"/blobs/uploads/.*" + hexpart)
    assert puts[0].fault and puts[0].status is None and puts[0].bytes_in == 3 * MiB
    assert puts[-1].status == 201 and puts[-1].bytes_in == bed.layer.size
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("1 reset mid-blob, upload (monolithic PUT)", "complete; the blob re-sent in a new session",
             done - puts[0].ended)


def test_reset_mid_chunk_falls_back_to_a_new_session(bed, tmp_path, recovery):
    """distribution cancels an upload whose PATCH was cut (its size no longer matches the session
    state), so the engine must notice and start a new session."""
    bed.pdst.add_rule("PATCH", r"/blobs/uploads/", skip=1, reset_request_after=MiB)
    report, _s = run_engine([f"{bed.psrc.host}/app/big:1"], bed.pdst.host, insecure=bed.insecure,
                            chunked_threshold=MiB, upload_chunk_size=2 * MiB)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    ups = bed.pdst.exchanges(None, r"/blobs/uploads/")
    cut = next(i for i, e in enumerate(ups) if e.fault)
    after = [(e.method, e.status) for e in ups[cut + 1:]]
    assert ("POST", 202) in after, after  # a fresh session ...
    assert after[-1] == ("PUT", 201)      # ... that completed
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("1 reset mid-chunk, upload (chunked PATCH)", "complete; registry dropped the session, new one",
             done - ups[cut].ended)


def test_lost_chunk_answer_checks_the_session_then_starts_over(bed, tmp_path, recovery):
    """The registry stored a chunk but its 202 never arrived. The engine asks the session for its
    offset (``GET`` on the upload URL). distribution ties every request of a session to the state
    token of the last answer and cancels an upload asked about with an older one, so here the answer
    is 404 and the engine must start a new session -- and never tag anything half-uploaded."""
    bed.pdst.add_rule("PATCH", r"/blobs/uploads/", skip=1, reset_response_after=0)
    report, _s = run_engine([f"{bed.psrc.host}/app/big:1"], bed.pdst.host, insecure=bed.insecure,
                            chunked_threshold=MiB, upload_chunk_size=2 * MiB)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    ups = bed.pdst.exchanges(None, r"/blobs/uploads/")
    cut = next(i for i, e in enumerate(ups) if e.fault)
    lost = ups[cut]
    assert lost.status == 202  # the registry took the chunk
    # the small config blob is uploaded (one PUT) at the same time, in no set order: leave it out
    after = [(e.method, e.status) for e in ups[cut + 1:]
             if not (e.method == "PUT" and bed.layer.digest not in e.path)]
    assert after[0] == ("GET", 404), after  # the engine asked; distribution had dropped the session
    assert after[1] == ("POST", 202) and after[-1] == ("PUT", 201), after
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("1 lost answer to a chunk (PATCH stored, 202 lost)",
             "complete; session checked, dropped by registry, new one", done - lost.ended)


# -- 2. bursts of 5xx and 429 ----------------------------------------------------------------------

def test_bursts_of_server_errors_are_retried(bed, tmp_path, recovery):
    rules = [
        bed.psrc.add_rule("GET", r"/manifests/", status=502, times=2),
        bed.psrc.add_rule("GET", r"/blobs/", status=503, times=3),
        bed.pdst.add_rule("POST", r"/blobs/uploads/", status=500, times=2),
        bed.pdst.add_rule("PUT", r"/manifests/", status=503, times=2),
    ]
    report, _s = run_engine([f"{bed.psrc.host}/app/multi:2", f"{bed.psrc.host}/app/big:1"], bed.pdst.host,
                            insecure=bed.insecure)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    assert [r.hits for r in rules] == [2, 3, 2, 2]
    assert report["totals"]["retries"] >= 9
    verify_registry_image(bed.dst, "app/multi:2", bed.multi.digest, tmp_path)
    verify_registry_image(bed.dst, "app/big:1", bed.big.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    first = min(e.ended for p in (bed.psrc, bed.pdst) for e in p.exchanges() if e.fault)
    recovery("2 bursts of 500/502/503 (9 answers)", "complete; every request retried", done - first)


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_waits_as_long_as_retry_after_says(bed, tmp_path, recovery, form):
    wait = 2
    if form == "seconds":
        value = str(wait)
    else:
        value = email.utils.formatdate(time.time() + wait + 1, usegmt=True)  # whole seconds: >= 2 s
    bed.psrc.add_rule("GET", r"/manifests/", status=429, retry_after=value)
    report, _s = run_engine([f"{bed.psrc.host}/app/big:1"], f"oci:{tmp_path / 'out'}", insecure=bed.insecure)
    done = time.monotonic()

    assert report["failed"] == [], failures(report)
    gets = bed.psrc.exchanges("GET", r"/manifests/")
    assert gets[0].status == 429 and gets[1].status == 200
    gap = gets[1].started - gets[0].ended
    # the backoff alone would wait at most 0.5 s; Retry-After asked for 2
    assert wait - 0.1 <= gap < wait + 2.5, gap
    verify_layout_image(tmp_path / "out", f"{bed.psrc.host}/app/big:1", bed.big.digest, tmp_path)
    recovery(f"2 429 with Retry-After ({form})", f"complete; waited {gap:.2f} s as asked", done - gets[0].ended)


def test_endless_503_is_a_clear_error_and_nothing_is_tagged(bed, tmp_path, recovery):
    bed.psrc.add_rule("GET", "/blobs/" + bed.layer.digest, status=503, times=None)
    report, seconds = run_engine([f"{bed.psrc.host}/app/big:1", f"{bed.psrc.host}/app/multi:2"], bed.pdst.host,
                                 insecure=bed.insecure, retries=3)
    errors = failures(report)
    source = f"{bed.psrc.host}/app/big:1"
    assert list(errors) == [source], errors
    assert source in errors[source] and "503" in errors[source] and "3 attempts" in errors[source]
    assert tags_of(bed.dst, "app/big") == []
    verify_registry_image(bed.dst, "app/multi:2", bed.multi.digest, tmp_path)  # the other image is done
    assert audit_registry(bed.dst) == []
    recovery("2 endless 503 on one blob", "clear error naming the image (other images done)", seconds)


# -- 3. bytes that do not match their digest --------------------------------------------------------

def test_corrupted_source_blob_to_a_registry_is_rejected(bed, tmp_path, recovery):
    bed.psrc.add_rule("GET", "/blobs/" + bed.layer.digest, corrupt_at=-1, times=None)
    report, seconds = run_engine([f"{bed.psrc.host}/app/big:1"], bed.pdst.host, insecure=bed.insecure)
    errors = failures(report)
    source = f"{bed.psrc.host}/app/big:1"
    assert list(errors) == [source]
    assert source in errors[source] and bed.layer.digest in errors[source] and "digest" in errors[source]
    assert tags_of(bed.dst, "app/big") == []
    status, _h, _b = bed.dst.request("HEAD", f"/v2/app/big/blobs/{bed.layer.digest}")
    assert status == 404  # the registry kept nothing under that digest
    assert audit_registry(bed.dst) == []
    recovery("3 corrupted source blob -> registry", "registry rejects it; error names image + blob", seconds)


def test_corrupted_source_blob_to_a_layout_is_discarded(bed, tmp_path, recovery):
    bed.psrc.add_rule("GET", "/blobs/" + bed.layer.digest, corrupt_at=5 * MiB, times=None)
    layout = tmp_path / "out"
    report, seconds = run_engine([f"{bed.psrc.host}/app/big:1", f"{bed.psrc.host}/app/multi:2"], f"oci:{layout}",
                                 insecure=bed.insecure)
    errors = failures(report)
    source = f"{bed.psrc.host}/app/big:1"
    assert list(errors) == [source]
    assert source in errors[source] and bed.layer.digest in errors[source] and "discarded" in errors[source]
    hexpart = bed.layer.digest.split(":", 1)[1]
    assert not (layout / "blobs" / "sha256" / hexpart).exists()
    assert not list(layout.glob(f".airgap-state/partial/*{hexpart}"))  # the bad bytes are not kept to resume
    assert audit_layout(layout) == []
    verify_layout_image(layout, f"{bed.psrc.host}/app/multi:2", bed.multi.digest, tmp_path)
    refs = [m["annotations"]["org.opencontainers.image.ref.name"]
            for m in __import__("json").loads((layout / "index.json").read_text())["manifests"]]
    assert source not in refs
    recovery("3 corrupted source blob -> layout", "discarded; error names image + blob (others done)", seconds)
