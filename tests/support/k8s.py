"""Kubernetes objects without an API server: ``kubectl --dry-run=client`` as the reference
renderer, ``kubernetes-validate --strict`` as the schema check (the Python API and its CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from .fixtures import require

K8S_VERSION = "1.32.0"
KUBECTL = "kubectl"
VALIDATE_CLI = Path(sys.executable).parent / "kubernetes-validate"


def require_tools():
    """Fail (never skip) when kubectl or the kubernetes-validate CLI is missing."""
    require(KUBECTL)
    if not VALIDATE_CLI.exists():
        pytest.fail("kubernetes-validate is not installed in %s (pip install kubernetes-validate)" % sys.executable,
                    pytrace=False)


def kubectl(*args):
    """The object ``kubectl <args> --dry-run=client -o json`` renders (no creationTimestamp)."""
    proc = subprocess.run([KUBECTL, *args, "--dry-run=client", "-o", "json"], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    obj = json.loads(proc.stdout)
    assert obj["metadata"].pop("creationTimestamp", None) is None
    return obj


def validate(obj):
    """kubernetes-validate --strict through the Python API; returns the message on success and
    fails the test naming the object otherwise."""
    try:
        return kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        what = "%s/%s" % (obj.get("kind"), obj.get("metadata", {}).get("name"))
        pytest.fail("%s does not validate: %s" % (what, str(exc).splitlines()[0]), pytrace=False)


def validate_cli(path):
    """``kubernetes-validate --strict`` on a manifest file, as a user would run it (the process)."""
    return subprocess.run([str(VALIDATE_CLI), "--strict", "-k", K8S_VERSION, str(path)],
                          capture_output=True, text=True, check=False)


def same(ours, theirs):
    """Our dict and kubectl's JSON are the same object (our key order may differ)."""
    assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)
