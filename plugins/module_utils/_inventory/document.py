# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The inventory file: JSON (``airgap.mirror/inventory/v1``), replaced atomically, with a detached
armored OpenPGP signature ``<file>.asc`` when a key is given (``_trust/openpgp``).

Idempotence: a file whose scope and state fingerprint equal the new read is left as it is, with
the time it was first read (``read_at``): the time alone is never a change. A re-read of an
unchanged mirror therefore changes nothing, and ``read_at`` says since when the mirror has been
in the state the file describes.

Keys come from ``_bundle/signing`` (``load_signing_key``, ``load_trusted_keys``): a signing key
has ``path``, ``secret``, ``passphrase``; trusted keys have ``keys`` and ``fingerprints``.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from .._common.fileio import atomic_write
from .._trust import openpgp
from .model import FORMAT, Inventory, InventoryError

MAX_BYTES = 64 * 1024 * 1024
MAX_SIGNATURE_BYTES = 1024 * 1024


def dumps(inv: Inventory) -> bytes:
    """The file's bytes: sorted keys, one item a line, so a diff of two reads is readable."""
    return (json.dumps(inv.to_dict(), indent=1, sort_keys=True) + "\n").encode("utf-8")


def signature_path(path: str) -> str:
    return path + ".asc"


def is_inventory(doc: Any) -> bool:
    """Whether a parsed JSON document claims to be an inventory."""
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def _read(path: str, limit: int, what: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InventoryError("cannot read the %s %s: %s" % (what, path, exc.strerror or exc)) from None
    if len(data) > limit:
        raise InventoryError("the %s %s is larger than %d bytes" % (what, path, limit))
    return data


def parse(data: bytes, path: str) -> Inventory:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InventoryError("the inventory %s is not JSON: %s" % (path, exc)) from None
    return Inventory.from_dict(doc, path)


def load(path: str, trusted: Any = None) -> tuple[Inventory, dict[str, Any]]:
    """The inventory at *path* and ``{path, sha256, signature: {present, file, verified,
    fingerprint}}``. With *trusted* keys its signature is checked over the exact bytes before they
    are parsed; unsigned, changed or signed by another key is refused, naming the file."""
    data = _read(path, MAX_BYTES, "inventory")
    if data is None:
        raise InventoryError("the inventory %s does not exist" % path)
    sig_path = signature_path(path)
    signature = _read(sig_path, MAX_SIGNATURE_BYTES, "inventory signature")
    report: dict[str, Any] = {"present": signature is not None, "file": sig_path, "verified": False,
                              "fingerprint": None}
    if trusted is not None:
        try:
            if signature is None:
                raise openpgp.OpenPGPError("unsigned", "it has no signature %s and verify_keys requires one (write "
                                           "it with signing_key)" % os.path.basename(sig_path))
            report["fingerprint"] = openpgp.verify_detached(trusted.keys, signature, data)
        except openpgp.OpenPGPError as exc:
            why = {"bad signature": "it was changed after it was signed",
                   "untrusted key": "%s; verify_keys trusts %s" % (exc.detail, ", ".join(trusted.fingerprints))
                   }.get(exc.reason, exc.detail or exc.reason)
            raise InventoryError("the inventory %s is refused: %s: %s" % (path, exc.reason, why)) from None
        report["verified"] = True
    info = {"path": os.path.abspath(path), "sha256": hashlib.sha256(data).hexdigest(), "signature": report}
    return parse(data, path), info


def load_if_exists(path: str) -> Inventory | None:
    """The inventory at *path* without a signature check, or None (missing or unreadable as one)."""
    try:
        data = _read(path, MAX_BYTES, "inventory")
        return parse(data, path) if data is not None else None
    except InventoryError:
        return None


def summary_lines(inv: Inventory | None) -> str:
    """The diff text: one line per repository, and what is missing."""
    if inv is None:
        return ""
    lines = ["registry %s, state %s" % (inv.registry, inv.state_digest())]
    for name in sorted(inv.repositories):
        repo = inv.repositories[name]
        lines.append("%s: %d tag(s), %d manifest(s), %d blob(s)" % (name, len(repo.tags), len(repo.manifests),
                                                                    len(repo.blobs())))
        lines.extend("%s: missing manifest %s" % (name, d) for d in sorted(repo.missing_manifests))
        lines.extend("%s: missing blob %s" % (name, d) for d in sorted(repo.missing_blobs))
    return "\n".join(lines) + "\n"


def write(path: str, inv: Inventory, signing_key: Any = None, check_mode: bool = False) -> dict[str, Any]:
    """Write *inv* to *path* (atomically) unless the file there already describes the same scope
    and state, and sign it with *signing_key* into ``<path>.asc`` unless a signature by that key
    over those bytes is there. Returns ``{changed, path, sha256, read_at, state_digest, status,
    signature, diff}``; *status*: ``written``, ``would_write`` or ``present``."""
    old = load_if_exists(path)
    same = old is not None and old.scope == inv.scope and old.state_digest() == inv.state_digest()
    kept = old if same and old is not None else inv
    data = (_read(path, MAX_BYTES, "inventory") if same else None) or dumps(inv)
    result: dict[str, Any] = {
        "path": os.path.abspath(path), "sha256": hashlib.sha256(data).hexdigest(), "read_at": kept.read_at,
        "state_digest": inv.state_digest(), "status": "present" if same else
        ("would_write" if check_mode else "written"), "changed": not same,
        "diff": {"before": summary_lines(old), "after": summary_lines(kept)},
    }
    signature = _signature(path, data, signing_key) if signing_key is not None else None  # before any write
    if not same and not check_mode:
        try:
            atomic_write(path, data, 0o644)
        except OSError as exc:
            raise InventoryError("cannot write the inventory %s: %s" % (path, exc.strerror or exc)) from None
    result["signature"] = None
    if signature is not None:
        result["signature"] = _write_signature(path, signature, check_mode)
        result["changed"] = result["changed"] or result["signature"]["status"] != "present"
    return result


def _signature(path: str, data: bytes, key: Any) -> tuple[bytes | None, str]:
    """(a new signature of *data*, or None when the one at ``<path>.asc`` is by *key* over *data*; fingerprint)."""
    existing = _read(signature_path(path), MAX_SIGNATURE_BYTES, "inventory signature")
    try:
        return openpgp.sign_unless_signed(key.secret, data, key.passphrase, existing)
    except openpgp.OpenPGPError as exc:
        raise InventoryError("cannot sign the inventory %s with the signing_key %s: %s" % (path, key.path, exc)) \
            from None


def _write_signature(path: str, signed: tuple[bytes | None, str], check_mode: bool) -> dict[str, Any]:
    sig_path = signature_path(path)
    signature, fingerprint = signed
    status = "present" if signature is None else ("would_write" if check_mode else "written")
    if signature is not None and not check_mode:
        try:
            atomic_write(sig_path, signature, 0o644)
        except OSError as exc:
            raise InventoryError("cannot write the signature %s: %s" % (sig_path, exc.strerror or exc)) from None
    return {"file": sig_path, "fingerprint": fingerprint, "status": status}
