"""Correctness after every copy: digests in registries, OCI layouts and skopeo ``dir:`` trees,
checked on the registries themselves (never through a simulated link) and with skopeo for a
sample. Problems are appended to the run's problem list (they make the exit status 1)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import workloads as W
from measure import log, sample
from testbed import SKOPEO, Reg

Expected = list[tuple[str, str, str, Any]]  # (repo, tag, digest, support.images.Image)


def skopeo_digest(args: list[str]) -> str:
    """The digest of what ``skopeo inspect --raw ARGS`` prints, or ``error: ...``."""
    proc = subprocess.run([SKOPEO, "inspect", "--raw", *args], capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        return "error: %s" % proc.stderr.decode(errors="replace").strip()[-300:]
    return "sha256:" + hashlib.sha256(proc.stdout).hexdigest()


def _file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
            hasher.update(chunk)
    return hasher.hexdigest()


class Verifier:
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def registry(self, label: str, reg: Reg, expected: Expected) -> dict[str, Any]:
        """Every tag answers with the digest (HEAD); for a sample, skopeo inspect --raw gives the
        same digest, index members too, and every blob of the sample is in the repository with
        its size."""
        bad = []
        host = reg.direct_host
        for repo, tag, digest, _image in expected:
            status, headers = reg.head("/v2/%s/manifests/%s" % (repo, tag))
            if status != 200 or headers.get("Docker-Content-Digest") != digest:
                bad.append("%s/%s:%s is %s (HTTP %s), expected %s" % (
                    host, repo, tag, headers.get("Docker-Content-Digest"), status, digest))
        checked = 0
        for repo, tag, digest, image in sample(expected):
            ref = "docker://%s/%s%s%s" % (host, repo, "@" if tag.startswith("sha256:") else ":", tag)
            got = skopeo_digest(["--tls-verify=false", ref])
            if got != digest:
                bad.append("skopeo inspect --raw %s: %s, expected %s" % (ref, got, digest))
            for child in image.children:
                cref = "docker://%s/%s@%s" % (host, repo, child.digest)
                got = skopeo_digest(["--tls-verify=false", cref])
                if got != child.digest:
                    bad.append("skopeo inspect --raw %s: %s" % (cref, got))
            bad += self._missing_blobs(reg, repo, image)
            checked += 1
        return self._verdict(label, len(expected), checked, bad)

    @staticmethod
    def _missing_blobs(reg: Reg, repo: str, image: Any) -> list[str]:
        blobs = {}
        for member in image.manifests():  # configs and layers (manifests are not under /blobs/)
            for desc in ([member.config] if member.config else []) + list(member.layers):
                blobs[desc.digest] = desc.size
        bad = []
        for blob, size in blobs.items():
            status, headers = reg.head("/v2/%s/blobs/%s" % (repo, blob))
            if status != 200 or int(headers.get("Content-Length", -1)) != size:
                bad.append("%s/%s blob %s: HTTP %s, %s bytes (expected %d)" % (
                    reg.direct_host, repo, blob[:19], status, headers.get("Content-Length"), size))
        return bad

    def layout(self, label: str, path: Path, wl: W.Workload) -> dict[str, Any]:
        """index.json names every image with its digest; every blob file hashes to its name; every
        blob of the workload is there; skopeo inspect --raw oci:DIR:REF agrees for a sample."""
        bad = []
        index = json.loads((path / "index.json").read_text(encoding="utf-8"))
        by_digest: dict[str, list[str | None]] = {}
        for entry in index.get("manifests", []):
            name = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            by_digest.setdefault(entry["digest"], []).append(name)
        for item in wl.images:
            if item.digest not in by_digest:
                bad.append("index.json has no entry for %s (%s)" % (item.repo, item.digest))
        present = {}
        for blob in (path / "blobs" / "sha256").iterdir():
            if blob.name.startswith(".") or not blob.is_file():
                continue
            digest = _file_digest(blob)
            if digest != blob.name:
                bad.append("blob %s hashes to %s" % (blob.name[:12], digest[:12]))
            present["sha256:" + blob.name] = blob.stat().st_size
        for digest, size in wl.unique_blobs.items():
            if present.get(digest) != size:
                bad.append("blob %s missing or wrong size (%s, expected %d)" % (digest[:19], present.get(digest), size))
        checked = 0
        for item in sample(wl.images):
            names = [n for n in by_digest.get(item.digest, []) if n]
            if not names:
                continue
            ref = "oci:%s:%s" % (path, names[0])
            got = skopeo_digest([ref])
            if got != item.digest:
                bad.append("skopeo inspect --raw %s: %s, expected %s" % (ref, got, item.digest))
            checked += 1
        return self._verdict(label, len(wl.images), checked, bad, blobs=len(present))

    def dirs(self, label: str, pairs: list[tuple[Path, str]]) -> dict[str, Any]:
        """``pairs``: [(dir path, expected digest)] -- skopeo inspect --raw dir:PATH for a sample,
        manifest.json bytes for all."""
        bad = []
        for path, digest in pairs:
            data = (Path(path) / "manifest.json").read_bytes()
            if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                bad.append("%s/manifest.json is not %s" % (path, digest))
        checked = 0
        for path, digest in sample(pairs):
            got = skopeo_digest(["dir:%s" % path])
            if got != digest:
                bad.append("skopeo inspect --raw dir:%s: %s, expected %s" % (path, got, digest))
            checked += 1
        return self._verdict(label, len(pairs), checked, bad)

    def _verdict(self, label: str, total: int, checked: int, bad: list[str], **extra: Any) -> dict[str, Any]:
        out = {"images": total, "skopeo_checked": checked, "ok": not bad, "problems": bad[:20], **extra}
        if bad:
            self.problems.append("%s: %d problems, first: %s" % (label, len(bad), bad[0]))
            log("    VERIFY %s: %d PROBLEMS: %s" % (label, len(bad), "; ".join(bad[:3])))
        else:
            log("    verified %s: %d images (skopeo inspect --raw on %d)" % (label, total, checked))
        return out
