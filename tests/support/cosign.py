"""cosign's image-signature format, made from its documentation (there is no cosign on the test bed
and Debian's skopeo refuses to write sigstore signatures).

What ``cosign sign --key`` stores for an image ``REPO@sha256:<hex>``:

- a *payload*: simple-signing JSON ``{"critical": {"identity": {"docker-reference": REPO},
  "image": {"docker-manifest-digest": DIGEST}, "type": "cosign container image signature"},
  "optional": null}`` (the identity is the repository only, no tag);
- an ECDSA P-256 / SHA-256 signature of the payload bytes, ASN.1 DER, standard base64;
- an OCI manifest tagged ``sha256-<hex>.sig`` in the same repository: one layer per signature, media
  type ``application/vnd.dev.cosign.simplesigning.v1+json``, the payload as blob and the signature
  in the layer annotation ``dev.cosignproject.cosign/signature``; the config lists the layers'
  digests as diff_ids.

Usage::

    key = make_key()                         # CosignKey: .private, .public_pem, .fingerprint
    payload = make_payload("127.0.0.1:5000/app", digest)
    sig = key.sign(payload)                  # base64 annotation value
    push_signatures(registry, "app", digest, [(payload, sig)])
    read_signatures(registry, "app", digest) # [(payload, sig)], through plain HTTP
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["CosignKey", "make_key", "make_payload", "signature_tag", "signature_manifest", "push_signatures",
           "read_signatures", "PAYLOAD_MEDIA_TYPE", "SIGNATURE_ANNOTATION"]

PAYLOAD_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
COSIGN_TYPE = "cosign container image signature"


@dataclass(frozen=True)
class CosignKey:
    private: ec.EllipticCurvePrivateKey

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint(self) -> str:
        der = self.private.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        return "sha256:" + hashlib.sha256(der).hexdigest()

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.private.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


def make_key() -> CosignKey:
    return CosignKey(ec.generate_private_key(ec.SECP256R1()))


def make_payload(docker_reference: str, digest: str, optional: dict | None = None,
                 kind: str = COSIGN_TYPE) -> bytes:
    """The payload bytes as cosign writes them (Go's json.Marshal: struct order, no spaces)."""
    body = {"critical": {"identity": {"docker-reference": docker_reference},
                         "image": {"docker-manifest-digest": digest}, "type": kind},
            "optional": optional}
    return json.dumps(body, separators=(",", ":")).encode()


def signature_tag(digest: str) -> str:
    algorithm, _sep, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}.sig"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def signature_manifest(signatures: list[tuple[bytes, str]]) -> tuple[bytes, dict[str, bytes]]:
    """``(manifest bytes, {digest: blob})`` of a cosign signature manifest."""
    blobs: dict[str, bytes] = {}
    layers = []
    for payload, signature in signatures:
        blobs[_digest(payload)] = payload
        layers.append({"mediaType": PAYLOAD_MEDIA_TYPE, "size": len(payload), "digest": _digest(payload),
                       "annotations": {SIGNATURE_ANNOTATION: signature}})
    config = json.dumps({"architecture": "", "created": "0001-01-01T00:00:00Z",
                         "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                         "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
                         "config": {}}, separators=(",", ":")).encode()
    blobs[_digest(config)] = config
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": _digest(config)},
                "layers": layers}
    return json.dumps(manifest, separators=(",", ":")).encode(), blobs


def push_signatures(registry, repository: str, digest: str, signatures: list[tuple[bytes, str]]) -> str:
    """Push the ``sha256-<hex>.sig`` manifest holding *signatures* for *digest* into *repository*
    of a :class:`support.registry.Registry` (plain HTTP requests); returns the manifest's digest."""
    manifest, blobs = signature_manifest(signatures)
    for blob_digest, data in blobs.items():
        if registry.request("HEAD", f"/v2/{repository}/blobs/{blob_digest}")[0] == 200:
            continue
        status, headers, body = registry.request("POST", f"/v2/{repository}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"POST upload {repository} -> HTTP {status}: {body[:300]!r}")
        location = urllib.parse.urljoin(registry.url, headers["Location"])
        location += ("&" if "?" in location else "?") + f"digest={blob_digest}"
        status, _headers, body = registry.request("PUT", location, data=data,
                                                  headers={"Content-Type": "application/octet-stream"})
        if status != 201:
            raise RuntimeError(f"PUT blob {blob_digest} -> HTTP {status}: {body[:300]!r}")
    status, _headers, body = registry.request("PUT", f"/v2/{repository}/manifests/{signature_tag(digest)}",
                                              data=manifest, headers={"Content-Type": OCI_MANIFEST})
    if status != 201:
        raise RuntimeError(f"PUT signature manifest -> HTTP {status}: {body[:300]!r}")
    return _digest(manifest)


def read_signatures(registry, repository: str, digest: str) -> list[tuple[bytes, str]]:
    """The ``(payload, signature)`` pairs of *digest*'s signature manifest ([] when it has none)."""
    status, _headers, body = registry.request("GET", f"/v2/{repository}/manifests/{signature_tag(digest)}",
                                              headers={"Accept": OCI_MANIFEST})
    if status == 404:
        return []
    if status != 200:
        raise RuntimeError(f"GET signature manifest -> HTTP {status}: {body[:300]!r}")
    result = []
    for layer in json.loads(body)["layers"]:
        if layer.get("mediaType") != PAYLOAD_MEDIA_TYPE:
            continue
        status, _headers, payload = registry.request("GET", f"/v2/{repository}/blobs/{layer['digest']}")
        if status != 200 or _digest(payload) != layer["digest"]:
            raise RuntimeError(f"signature payload {layer['digest']}: HTTP {status}")
        result.append((payload, layer.get("annotations", {}).get(SIGNATURE_ANNOTATION, "")))
    return result
