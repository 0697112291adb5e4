# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, third step (with ``signature_policy``): verify every image's signatures before a single
byte of it is copied, and carry the GPG ones with it.

The decision itself is ``_trust/verify.verify_image``: the requirements of the policy scope that
matches the image's *source* reference. This module feeds it the signatures:

- **sigstore**: the cosign signature manifest ``sha256-<hex>.sig`` next to the image in its source
  (a registry, or the layout the connected side wrote; it is copied as an attachment, as before);
- **GPG simple signing**: the lookaside store ``registries_d`` names for the source, or the
  signatures this module carried: an OCI artifact tagged ``sha256-<hex>.gpgsig`` next to the image
  (one layer per signature, in order), written wherever the image is written, so a layout, a bundle
  and a mirror carry them like any other attachment and the air-gapped side verifies them again.

An image that is refused is failed, and it and its attachments are dropped from the plan: nothing
of it is written. With ``lookaside_dir``, the GPG signatures of the images in place after the run
are written there in the lookaside layout hosts read (``<repo path>@sha256=<hex>/signature-<n>``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._common.errors import UserError
from .._common.fileio import atomic_write
from .._mirrormap.model import VERIFIED_KINDS, RegistryDestination, Verified
from .._oci import manifest as _manifest
from .._oci.errors import NotFound, OCIError
from .._trust.verify import SigstoreSignature, Verdict, verify_image
from .job import IN_PLACE, ImageJob, Status

#: the tag suffix and media types of the GPG signatures carried next to an image
GPG_SUFFIX = ".gpgsig"
GPG_ARTIFACT_TYPE = "application/vnd.io.github.airgap-mirror.simple-signing.v1"
GPG_LAYER_TYPE = "application/vnd.io.github.airgap-mirror.simple-signing.signature.v1"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
COSIGN_LAYER_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_ANNOTATION = "dev.cosignproject.cosign/signature"
#: a signature (or cosign payload) larger than this is malformed, not read
MAX_SIGNATURE_BYTES = 256 * 1024
_SIGNATURE_URL = re.compile(r"/signature-([1-9][0-9]*)$")


class VerificationFailed(OCIError):
    """An image its signature policy refuses (RV images[].error_type)."""


@dataclasses.dataclass(frozen=True)
class Trust:
    """What ``signature_policy`` asks: the policy, the registries.d configuration, how lookaside
    URLs are read, and where the GPG signatures of the mirrored images go (None: nowhere)."""

    policy: Any  # _trust.policy.Policy
    registries_d: Any  # _trust.registriesd.RegistriesD
    fetch: Callable[[str], bytes | None]
    lookaside_dir: str | None = None


def check(jobs: list[ImageJob], trust: Trust, concurrency: int = 8) -> None:
    """Verify every resolved image (copy or present) against *trust*. Never raises for an image: a
    refused one is failed (``VerificationFailed``) and its attachments dropped; an accepted one gets
    ``job.verified`` and, for GPG, an attachment job carrying its signatures."""
    todo = [job for job in jobs if job.status in (Status.COPY, Status.PRESENT)]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(lambda job: _check_job(job, trust), todo))


def _check_job(job: ImageJob, trust: Trust) -> None:
    try:
        verdict = _verify(job, trust)
    except UserError as exc:  # a registry, layout or lookaside store that could not be read
        _refuse(job, "signatures could not be read: %s" % exc)
        return
    except Exception as exc:  # a bug must not take the other images down
        _refuse(job, "internal error while verifying: %s: %s" % (type(exc).__name__, exc))
        return
    if not verdict.accepted:
        _refuse(job, verdict.reason)
        return
    # insecureAcceptAnything verifies nothing, and the map says so
    job.verified = Verified(verdict.kind, tuple(verdict.keys)) if verdict.kind in VERIFIED_KINDS else None
    if verdict.gpg_signatures:
        _carry(job, list(verdict.gpg_signatures))


def _verify(job: ImageJob, trust: Trust) -> Verdict:
    if job.src_ref is None:
        raise OCIError("no source reference to verify the signatures against (a layout ref name that is "
                       "not a full image reference)")
    digest = job.source_digest or job.digest
    if not digest:
        raise OCIError("the image has no digest")
    carried = _carried(job, digest)
    fetch = trust.fetch if carried is None else _serve(carried)
    return verify_image(trust.policy, trust.registries_d, str(job.src_ref), digest,
                        sigstore=lambda: _sigstore(job, digest), fetch=fetch)


def _refuse(job: ImageJob, reason: str) -> None:
    job.attachments = []
    job.attachment_tags = []
    job.fail(VerificationFailed("signature verification failed: %s" % reason))


# ------------------------------------------------------------------ reading signatures at the source

def _ident(job: ImageJob, tag: str) -> str:
    """How *job*'s source names its artifact *tag* (a registry tag, or a layout ref name)."""
    return tag if job.src.kind == "registry" else "%s:%s" % (job.src.name, tag)


def _read_artifact(job: ImageJob, tag: str) -> _manifest.Manifest | None:
    if job.src.kind not in ("registry", "layout") or (job.src.kind == "layout" and not job.src.name):
        return None
    try:
        data, ctype = job.src.fetch_manifest(_ident(job, tag), image=job.source)
    except NotFound:
        return None
    return _manifest.parse(data, ctype, where="signature manifest %s of %s" % (tag, job.source))


def _read_blob(job: ImageJob, desc: _manifest.Descriptor) -> bytes:
    if desc.size > MAX_SIGNATURE_BYTES:
        raise OCIError("signature blob %s is %d bytes, more than a signature can be" % (desc.digest, desc.size))
    data = b"".join(job.src.open_blob(desc, 0, image=job.source))
    _manifest.verify_digest(data, desc.digest, what="signature blob %s" % desc.digest, image=job.source)
    return data


def _sigstore(job: ImageJob, digest: str) -> list[SigstoreSignature]:
    """The cosign signatures of *digest* (its ``sha256-<hex>.sig`` manifest's layers)."""
    man = _read_artifact(job, digest.replace(":", "-", 1) + ".sig")
    if man is None:
        return []
    out = []
    for layer in man.layers:
        signature = (layer.annotations or {}).get(COSIGN_ANNOTATION)
        if layer.media_type == COSIGN_LAYER_TYPE and isinstance(signature, str):
            out.append(SigstoreSignature(payload=_read_blob(job, layer), signature=signature))
    return out


def _carried(job: ImageJob, digest: str) -> list[bytes] | None:
    """The GPG signatures carried next to the image by an earlier run (None: there is no carrier).
    A registry source is asked only when the tag list read while resolving names the carrier: no
    extra round trip per image on the connected side, where signatures come from the lookaside."""
    tag = digest.replace(":", "-", 1) + GPG_SUFFIX
    if job.src.kind == "registry" and tag not in job.attachment_tags:
        return None
    man = _read_artifact(job, tag)
    if man is None:
        return None
    return [_read_blob(job, layer) for layer in man.layers if layer.media_type == GPG_LAYER_TYPE]


def _serve(signatures: list[bytes]) -> Callable[[str], bytes | None]:
    """A lookaside reader that answers ``.../signature-<n>`` from *signatures*."""
    def fetch(url: str) -> bytes | None:
        match = _SIGNATURE_URL.search(url)
        index = int(match.group(1)) if match else 0
        return signatures[index - 1] if 0 < index <= len(signatures) else None
    return fetch


# ------------------------------------------------------------------ carrying GPG signatures

class MemorySource:
    """The source of an artifact this run makes: its blobs are in memory."""

    kind = "memory"
    name = None
    via = None

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.key = ("memory", id(self))

    def describe(self, ident: str | None = None) -> str:
        return "signatures made by this run" + (" (%s)" % ident if ident else "")

    def open_blob(self, desc: _manifest.Descriptor, offset: int = 0, image: str | None = None) -> Iterator[bytes]:
        yield self.blobs[desc.digest][offset:]


def signatures_artifact(subject: _manifest.Descriptor | None, signatures: list[bytes]) -> tuple[bytes, dict[str, bytes]]:
    """The carrier of *signatures*: OCI image manifest bytes and its blobs {digest: bytes}."""
    blobs = {_manifest.compute_digest(b"{}"): b"{}"}
    layers = []
    for n, signature in enumerate(signatures, start=1):
        digest = _manifest.compute_digest(signature)
        blobs[digest] = signature
        layers.append({"mediaType": GPG_LAYER_TYPE, "digest": digest, "size": len(signature),
                       "annotations": {"org.opencontainers.image.title": "signature-%d" % n}})
    body: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": _manifest.OCI_MANIFEST, "artifactType": GPG_ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_TYPE, "digest": _manifest.compute_digest(b"{}"), "size": 2},
        "layers": layers,
    }
    if subject is not None:
        body["subject"] = subject.to_dict()
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode(), blobs


def _carry(job: ImageJob, signatures: list[bytes]) -> None:
    """Add an attachment job that writes *signatures* next to *job* at its destination."""
    digest = job.source_digest or job.digest
    if digest is None:  # _verify refused it already
        raise OCIError("the image has no digest")
    tag = digest.replace(":", "-", 1) + GPG_SUFFIX
    data, blobs = signatures_artifact(None, signatures)
    man = _manifest.parse(data, _manifest.OCI_MANIFEST, where="GPG signatures of %s" % job.source)
    if job.dest.kind == "registry":
        dest_ident = tag
    else:
        dest_ident = "%s:%s" % (job.src_ref.name if job.src_ref else job.dest.name, tag)
    att = ImageJob("%s (GPG signatures)" % job.source, MemorySource(blobs), tag, job.dest, dest_ident, parent=job)
    att.root, att.manifests = man, [man]
    att.blobs = {d.digest: d for d in man.blobs}
    att.digest, att.media_type, att.size = man.digest, man.media_type, man.size + sum(len(b) for b in blobs.values())
    att.before = job.dest.current_digest(dest_ident, image=job.source)
    att.status = Status.PRESENT if att.before == man.digest else Status.COPY
    att.gpg_signatures = list(signatures)
    job.attachments = [a for a in job.attachments if a.attachment_name != tag] + [att]
    job.attachment_tags = sorted(set(job.attachment_tags) | {tag})


# ------------------------------------------------------------------ the lookaside store

def _lookaside_repository(job: ImageJob) -> str:
    """The repository path a host's containers/image reads the image's signatures under: that of
    the mirror it pulls from (its registries.d ``lookaside`` is looked up, and the path built, with
    the mirror's reference, while the policy is evaluated against the source's; seen with skopeo
    1.9, see tests/integration/test_image_mirror_signatures.py). For a layout: the source's."""
    target = job.target
    if isinstance(target, RegistryDestination):
        return target.ref.repository
    return job.src_ref.repository if job.src_ref is not None else ""  # write_lookaside skips those


def write_lookaside(jobs: Iterable[ImageJob], directory: str) -> int:
    """Write the GPG signatures of the images in place into *directory*, laid out as a
    containers-registries.d(5) ``lookaside`` (``<repository path>@<alg>=<hex>/signature-<n>``,
    the path of the image in the mirror, see :func:`_lookaside_repository`).
    Returns how many files changed. Each file is replaced atomically; unchanged ones are left."""
    changed = 0
    for job in jobs:
        if job.status not in IN_PLACE or job.src_ref is None:
            continue
        digest = job.source_digest or job.digest
        carrier = next((a for a in job.attachments if a.gpg_signatures), None)
        if carrier is None or not digest:
            continue
        algorithm, hexdigest = digest.split(":", 1)
        folder = os.path.join(directory, "%s@%s=%s" % (_lookaside_repository(job), algorithm, hexdigest))
        for n, signature in enumerate(carrier.gpg_signatures, start=1):
            path = os.path.join(folder, "signature-%d" % n)
            try:
                with open(path, "rb") as handle:
                    if handle.read() == signature:
                        continue
            except OSError:
                pass
            os.makedirs(folder, exist_ok=True)
            atomic_write(path, signature, mode=0o644)
            changed += 1
    return changed
