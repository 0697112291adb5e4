"""The engine's side of ``signature_policy`` that needs no registry: the artifact that carries GPG
signatures, the lookaside reader it serves, and the lookaside store written for hosts."""

import os
import stat

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine import signatures as S
from ansible_collections.airgap.mirror.plugins.module_utils._engine.job import ImageJob, Status
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, Sharding
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.shard import Shard
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError
from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D = "sha256:" + "ab" * 32


def test_the_carrier_is_an_oci_artifact_with_one_layer_per_signature_in_order():
    data, blobs = S.signatures_artifact(None, [b"first", b"second"])
    man = M.parse(data, M.OCI_MANIFEST)
    assert man.body["artifactType"] == S.GPG_ARTIFACT_TYPE
    assert man.config.media_type == S.EMPTY_TYPE and blobs[man.config.digest] == b"{}"
    assert [blobs[layer.digest] for layer in man.layers] == [b"first", b"second"]
    assert [layer.annotations["org.opencontainers.image.title"] for layer in man.layers] == \
        ["signature-1", "signature-2"]
    # the same signatures make the same bytes: a re-run finds the carrier present
    assert S.signatures_artifact(None, [b"first", b"second"])[0] == data
    assert S.signatures_artifact(None, [b"second", b"first"])[0] != data


def test_carried_signatures_answer_lookaside_urls_by_their_number():
    fetch = S._serve([b"one", b"two"])
    base = "file:///anything/org/app@sha256=%s" % ("ab" * 32)
    assert fetch(base + "/signature-1") == b"one" and fetch(base + "/signature-2") == b"two"
    assert fetch(base + "/signature-3") is None and fetch(base + "/signature-0") is None
    assert fetch(base) is None


def _placed(source, signatures, status=Status.COPIED):
    job = ImageJob(source, None, None, None, None, src_ref=R.parse(source))
    job.status, job.digest = status, D
    carrier = ImageJob(source + " (GPG signatures)", None, None, None, None, parent=job)
    carrier.gpg_signatures = list(signatures)
    job.attachments.append(carrier)
    return job


def test_the_lookaside_store_is_laid_out_as_registries_d_says_and_rewritten_only_when_changed(tmp_path):
    jobs = [_placed("quay.io/org/app:1.0", [b"sig-a", b"sig-b"]),
            _placed("quay.io/org/gone:1.0", [b"x"], Status.FAILED),
            _placed("docker.io/library/busybox:1", [b"sig-c"], Status.PRESENT)]
    assert S.write_lookaside(jobs, str(tmp_path)) == 3
    folder = tmp_path / ("org/app@sha256=%s" % ("ab" * 32))
    assert (folder / "signature-1").read_bytes() == b"sig-a" and (folder / "signature-2").read_bytes() == b"sig-b"
    assert (tmp_path / ("library/busybox@sha256=%s" % ("ab" * 32)) / "signature-1").read_bytes() == b"sig-c"
    assert not (tmp_path / "org" / ("gone@sha256=%s" % ("ab" * 32))).exists()
    assert stat.S_IMODE(os.stat(folder / "signature-1").st_mode) == 0o644
    before = os.stat(folder / "signature-1").st_ino
    assert S.write_lookaside(jobs, str(tmp_path)) == 0
    assert os.stat(folder / "signature-1").st_ino == before
    jobs[0].attachments[0].gpg_signatures = [b"sig-a2", b"sig-b"]
    assert S.write_lookaside(jobs, str(tmp_path)) == 1


def test_a_refused_image_loses_its_attachments_and_says_why():
    job = _placed("quay.io/org/app:1.0", [b"s"], Status.COPY)
    job.attachment_tags = ["sha256-%s.sig" % ("ab" * 32)]
    S._refuse(job, "untrusted key: signed by 0123")
    assert job.status is Status.FAILED and job.attachments == [] and job.attachment_tags == []
    assert isinstance(job.error, S.VerificationFailed)
    assert "signature verification failed: untrusted key" in str(job.error) and "quay.io/org/app:1.0" in str(job.error)


def test_a_sharded_run_with_a_signature_policy_is_refused_before_anything_is_resolved():
    def never(url):
        raise AssertionError("nothing may be fetched")

    pool = ClientPool()
    request = MirrorRequest(["127.0.0.1:1/org/app:1"], "127.0.0.1:2", sharding=Sharding(Shard(0, 2)),
                            trust=S.Trust(object(), object(), never))
    with pytest.raises(OCIError, match="signature_policy cannot be used in a sharded run"):
        mirror(request, pool=pool)
    assert pool.stats.by_registry() == {}
    pool.close()
