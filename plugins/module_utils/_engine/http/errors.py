# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Reading what went wrong: the error entries of a distribution answer, the exception a refused
request becomes, and what a failed TLS handshake says about the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._oci.errors import AuthError, DigestMismatch, NotFound, OCIError, RegistryError, redact_url

if TYPE_CHECKING:  # pragma: no cover
    import httpx

MAX_ERROR_ENTRIES = 20
# the codes of an answer meaning "this upload session no longer exists"
UPLOAD_SESSION_LOST = frozenset(("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"))


def error_entries(response: httpx.Response) -> list[tuple[str, str, str | None]]:
    """Every entry of a distribution error answer (``{"errors": [{"code", "message", "detail"}]}``)
    as ``(code, message, detail)``; ``detail`` only where it is a string (distribution puts the
    digest there for MANIFEST_BLOB_UNKNOWN). [] for a body that is not such an answer."""
    try:
        errors = response.json().get("errors") or []
    except Exception:  # the body is not the distribution error JSON
        return []
    out = []
    for entry in errors[:MAX_ERROR_ENTRIES] if isinstance(errors, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("code"), str):
            message = entry.get("message")
            detail = entry.get("detail")
            out.append((entry["code"][:64], message[:200] if isinstance(message, str) else "",
                        detail[:200] if isinstance(detail, str) and detail else None))
    return out


def describe_errors(entries: list[tuple[str, str, str | None]]) -> str:
    """``CODE: message (detail); CODE: message`` -- every entry, in the registry's order."""
    return "; ".join("%s: %s%s" % (code, message or "no message", " (%s)" % detail if detail else "")
                     for code, message, detail in entries)


def refusal(resp: httpx.Response, what: str, registry: str, image: str | None = None) -> OCIError:
    """The exception for *resp*, an answer that is not the expected one (its body already read)."""
    entries = error_entries(resp)
    codes = tuple(entry[0] for entry in entries)
    code = codes[0] if codes else None
    detail = describe_errors(entries) or "unexpected status"
    url = str(resp.request.url)
    status = resp.status_code
    lost = [c for c in codes if c in UPLOAD_SESSION_LOST]
    if lost and status in (400, 404):
        # distribution answers so when a session's state token no longer matches (registry
        # restarted with another http.secret, upload purged or cancelled): not bad content
        return RegistryError("%s: the registry no longer knows the upload session (%s)" % (what, detail),
                             url=url, status=status, image=image, code=lost[0], codes=codes)
    if "MANIFEST_BLOB_UNKNOWN" in codes and status in (400, 404):
        # with DIGEST_INVALID beside it when distribution read a link another client was
        # rewriting: about what the manifest refers to, not its own bytes (see put_manifest)
        return RegistryError("%s: refused, the registry reports something the manifest refers to as missing (%s)"
                             % (what, detail), url=url, status=status, image=image,
                             code="MANIFEST_BLOB_UNKNOWN", codes=codes)
    if status == 404:
        return NotFound("%s: not found (%s)" % (what, detail), url=url, status=404, image=image, code=code,
                        codes=codes)
    if status in (401, 403):
        return AuthError("%s: access denied (%s); check the credentials for %s" % (what, detail, registry),
                         url=url, status=status, image=image, code=code, codes=codes)
    if code == "DIGEST_INVALID" and status == 400:
        return DigestMismatch("%s: the registry rejected the content as not matching its digest (%s)"
                              % (what, detail), url=url, status=400, image=image)
    return RegistryError("%s failed (%s)" % (what, detail), url=url, status=status, image=image,
                         code=code, codes=codes)


def is_tls_verify_error(exc: BaseException) -> bool:
    """The server's certificate was not trusted (or names another host)."""
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or \
        "Hostname mismatch" in text or "IP address mismatch" in text


def is_plain_http_answer(exc: BaseException) -> bool:
    """The server answered the TLS handshake in plain HTTP."""
    text = str(exc)
    return "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer failure" in text \
        or "packet length too long" in text or "http request" in text.lower()


def short(exc: BaseException) -> str:
    """The text of *exc* for a message: redacted, at most 300 characters."""
    text = str(exc) or type(exc).__name__
    return redact_url(text)[:300]
