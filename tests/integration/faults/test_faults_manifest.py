"""Fault matrix: a manifest ``PUT`` refused for something it refers to.

Two runs pushing the same image into one registry at once: distribution 2.8 (filesystem storage)
rewrites a child manifest's link file in place when the other run pushes that child again, and a
``PUT`` of the index that reads the link at that moment is refused with two errors at once --
``DIGEST_INVALID`` (the half-written link does not parse as a digest) and
``MANIFEST_BLOB_UNKNOWN`` (so the child counts as missing). The child is there a moment later.

The race is made deterministic with the fault proxy: it answers the index's ``PUT`` with exactly
that two-error body (once, or every time), and the real registry behind it holds the real state.
A child that is really missing is made by letting the proxy swallow the children's ``PUT``\\ s (it
answers 201 without forwarding): then the refusal comes from the registry itself.

Required: every error code of the answer is reported, not only the first, and not as corruption;
a ``PUT`` refused for a child or blob that is present when checked again is sent again (bounded);
a child that is really missing is named, and nothing is tagged.
"""

from __future__ import annotations

import json
import time

import pytest

from .harness import audit_registry, failures, proxied_bed, run_engine, tags_of, verify_registry_image

pytestmark = pytest.mark.integration


@pytest.fixture
def bed(registry_factory, proxy_factory, fault_images):
    bed = proxied_bed(registry_factory, proxy_factory, fault_images, multi=("app/multi", "2"))
    bed.children = [c.digest for c in bed.multi.children]
    return bed


def _race_body(child: str) -> bytes:
    """What distribution answered in the concurrent runs (codes, messages and detail as it sends them)."""
    return json.dumps({"errors": [
        {"code": "DIGEST_INVALID", "message": "provided digest did not match uploaded content"},
        {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": child},
    ]}).encode()


def _run(bed):
    return run_engine([f"{bed.psrc.host}/app/multi:2"], bed.pdst.host, insecure=bed.insecure)


def test_an_index_refused_while_a_child_was_rewritten_is_pushed_again(bed, tmp_path, recovery):
    rule = bed.pdst.add_rule("PUT", r"/v2/app/multi/manifests/2$", status=400, body=_race_body(bed.children[0]))
    started = time.monotonic()
    report, _s = _run(bed)

    assert report["failed"] == [], failures(report)
    assert rule.hits == 1
    puts = bed.pdst.exchanges("PUT", r"/v2/app/multi/manifests/2$")
    assert [e.status for e in puts] == [400, 201]
    # between the two: the children were checked again (HEAD by digest), not pushed blindly
    refused_at = bed.pdst.exchanges().index(puts[0])
    rechecked = [e.path for e in bed.pdst.exchanges("HEAD", r"/manifests/sha256:", since=refused_at)]
    assert all(any(path.endswith(child) for path in rechecked) for child in bed.children), rechecked
    verify_registry_image(bed.dst, "app/multi:2", bed.multi.digest, tmp_path)
    assert audit_registry(bed.dst) == []
    recovery("9 index PUT refused with DIGEST_INVALID + MANIFEST_BLOB_UNKNOWN (concurrent runs), once",
             "complete; children checked again, PUT sent again", time.monotonic() - started)


def test_every_error_code_is_reported_and_the_retries_are_bounded(bed):
    bed.pdst.add_rule("PUT", r"/v2/app/multi/manifests/2$", status=400, body=_race_body(bed.children[0]),
                      times=None)
    report, _s = _run(bed)

    message = failures(report)[f"{bed.psrc.host}/app/multi:2"]
    assert "DIGEST_INVALID" in message and "MANIFEST_BLOB_UNKNOWN" in message, message
    assert bed.children[0] in message, message  # the detail the registry gave
    assert "not matching its digest" not in message, message  # not reported as corruption
    puts = bed.pdst.exchanges("PUT", r"/v2/app/multi/manifests/2$")
    assert 2 <= len(puts) <= 4, len(puts)  # sent again, but not forever
    assert f"refused {len(puts)} times" in message, message
    assert tags_of(bed.dst, "app/multi") == []
    assert audit_registry(bed.dst) == []


def test_a_child_that_is_really_missing_is_named(bed):
    """The proxy swallows the children's PUTs (201 without forwarding): the registry itself refuses
    the index with one MANIFEST_BLOB_UNKNOWN per child. Checked again, they are missing: no retry,
    an error naming them."""
    bed.pdst.add_rule("PUT", r"/v2/app/multi/manifests/sha256:", status=201, body=b"", times=None)
    report, _s = _run(bed)

    message = failures(report)[f"{bed.psrc.host}/app/multi:2"]
    assert message.count("MANIFEST_BLOB_UNKNOWN") == 2, message  # one entry per child, both reported
    assert "not in the registry" in message and all(child in message for child in bed.children), message
    assert [e.status for e in bed.pdst.exchanges("PUT", r"/v2/app/multi/manifests/2$")] == [400]  # no retry
    assert tags_of(bed.dst, "app/multi") == []
    assert audit_registry(bed.dst) == []
