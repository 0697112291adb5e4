# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""One exception family for the image engine.

Every error carries, where known, the image it concerns, the URL and the HTTP status, so that the
module edge can report "which image, which request, why" in one line. Nothing here ever holds a
credential: URLs are stored without userinfo and query strings are cut (upload session URLs carry
opaque state that is useless to a reader).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, overload

from .._common.errors import UserError

_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@overload
def redact_url(url: str) -> str:
    ...


@overload
def redact_url(url: object) -> str | None:
    ...


def redact_url(url: object) -> str | None:
    """Return *url* without userinfo and without its query string (None stays None)."""
    if url is None:
        return None
    text = _URL_USERINFO.sub("", str(url))
    return text.split("?", 1)[0]


class OCIError(UserError):
    """Base class: an image engine failure that can be reported to a user."""

    #: True when retrying the same request later may succeed.
    transient = False

    def __init__(self, message: str, image: object = None, url: object = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.image = image
        self.url = redact_url(url)
        self.status = status

    def __str__(self) -> str:
        parts = []
        if self.image:
            parts.append(str(self.image))
        parts.append(self.message)
        detail = []
        if self.status:
            detail.append("HTTP %s" % self.status)
        if self.url:
            detail.append(self.url)
        text = ": ".join(parts)
        if detail:
            text += " (%s)" % ", ".join(detail)
        return text

    def for_image(self, image: object) -> OCIError:
        """Attach the image this error concerns, unless one is already known; return self."""
        if not self.image:
            self.image = image
        return self

    def copy_for(self, image: object) -> OCIError:
        """A copy of this error naming *image* (the same blob can fail several images)."""
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.args = self.args
        clone.image = image
        return clone

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "image": str(self.image) if self.image else None,
            "url": self.url,
            "status": self.status,
        }


class InvalidReference(OCIError):
    """An image reference that does not follow the distribution reference grammar."""

    def __init__(self, reference: object, reason: str) -> None:
        super().__init__("invalid image reference %r: %s" % (reference, reason))
        self.reference = reference
        self.reason = reason


class ManifestError(OCIError):
    """A manifest that is not JSON, has an unknown media type or an invalid structure."""


class DigestMismatch(OCIError):
    """Content whose bytes do not hash to the digest it was announced with."""


class RegistryError(OCIError):
    """An HTTP request to a registry failed. ``code`` is the distribution error code the failure
    is classified by, ``codes`` every code of the registry's answer, in its order."""

    def __init__(self, message: str, image: object = None, url: object = None, status: int | None = None,
                 code: str | None = None, transient: bool = False, codes: Iterable[str] | None = None) -> None:
        super().__init__(message, image=image, url=url, status=status)
        self.code = code
        self.codes = tuple(codes) if codes else ((code,) if code else ())
        self.transient = transient


class NotFound(RegistryError):
    """The registry (or layout) does not have the manifest or blob."""


class AuthError(RegistryError):
    """Credentials are missing or refused."""


class TLSError(RegistryError):
    """The TLS handshake failed, usually an unknown certificate authority."""


class LayoutError(OCIError):
    """An OCI image layout or a skopeo dir: export that cannot be read or written."""


class DeadlineExceeded(OCIError):
    """The overall deadline of a copy passed before the work was done."""


class CopyFailed(OCIError):
    """Aggregate: one or more images of a copy failed (each listed in ``failures``)."""

    def __init__(self, failures: list[Any]) -> None:
        super().__init__("%d image(s) failed" % len(failures))
        self.failures = failures
