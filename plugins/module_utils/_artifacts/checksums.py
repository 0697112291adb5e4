# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Checksum sources and checksum files: ``sha512sum``/``sha256sum`` output (``HEX  NAME``,
``HEX *NAME``), a bare hex digest, and the BSD form (``SHA256 (NAME) = HEX``)."""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from .model import ALGORITHMS, PINNED_ALGORITHMS, ArtifactError, Checksum, check_url

_GNU = re.compile(r"^([0-9a-fA-F]+)(?:\s+\*?(.+?))?\s*$")
_BSD = re.compile(r"^(SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$")
MAX_CHECKSUM_BYTES = 4 * 1024 * 1024


def parse_source(value: Any, url: str, where: str) -> Checksum:
    """The checksum source *value* names for the file at *url*: ``sha512`` / ``sha256`` (the
    file ``URL.sha512`` / ``URL.sha256``), ``file:URL`` (a checksum file elsewhere), ``list:URL``
    (a ``SHA256SUMS``-style list) or ``sha256:HEX`` / ``sha512:HEX`` / ``md5:HEX`` (pinned; md5
    only where nothing stronger is published)."""
    if not isinstance(value, str) or not value:
        raise ArtifactError("%s: checksum must be a string such as sha512, list:URL or sha256:HEX" % where)
    if value in ALGORITHMS:
        return Checksum("file", value, url + "." + value)
    kind, sep, rest = value.partition(":")
    if sep and kind in PINNED_ALGORITHMS and re.fullmatch(r"[0-9a-fA-F]+", rest):
        if len(rest) != PINNED_ALGORITHMS[kind]:
            raise ArtifactError("%s: a %s checksum has %d hex digits, not %d"
                                % (where, kind, PINNED_ALGORITHMS[kind], len(rest)))
        return Checksum("pinned", kind, value=rest.lower())
    if sep and kind in ("list", "file"):
        return Checksum(kind, None, check_url(rest, where))
    raise ArtifactError("%s: checksum %r is not one of sha512, sha256, file:URL, list:URL, sha256:HEX, sha512:HEX"
                        % (where, value))


def _entries(text: str, where: str) -> list[tuple[str | None, str, str | None]]:
    """``[(algorithm or None, hex, name or None)]`` of a checksum file."""
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        bsd = _BSD.match(line)
        if bsd:
            out.append((bsd.group(1).lower(), bsd.group(3).lower(), bsd.group(2)))
            continue
        gnu = _GNU.match(line)
        if not gnu:
            raise ArtifactError("%s line %d: not a checksum line: %r" % (where, lineno, line[:80]))
        out.append((None, gnu.group(1).lower(), gnu.group(2)))
    return out


def expected(data: bytes, checksum: Checksum, file_url: str) -> tuple[str, str]:
    """``(algorithm, hex)`` the checksum file *data* (from ``checksum.url``) gives for *file_url*.

    A checksum file next to the file may hold one bare digest or one line naming the file; a list
    must have a line whose name is the file's name or its path relative to the list's directory."""
    where = "checksum file %s" % checksum.url
    if len(data) > MAX_CHECKSUM_BYTES:
        raise ArtifactError("%s is larger than %d bytes" % (where, MAX_CHECKSUM_BYTES))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError("%s is not UTF-8 text" % where) from None
    entries = _entries(text, where)
    name = posixpath.basename(unquote(urlsplit(file_url).path))
    relative = _relative(file_url, checksum.url or "")
    matches = [e for e in entries if e[2] is not None and e[2].lstrip("*").removeprefix("./") in (name, relative)]
    if checksum.kind == "file" and not matches and len(entries) == 1 and entries[0][2] is None:
        matches = entries
    if not matches:
        if checksum.kind == "file" and len(entries) == 1:
            raise ArtifactError("%s names %s, not %s" % (where, entries[0][2], name))
        raise ArtifactError("%s has no line for %s" % (where, name))
    hexes = {e[1] for e in matches}
    if len(hexes) != 1:
        raise ArtifactError("%s has different checksums for %s" % (where, name))
    algorithm = matches[0][0] or checksum.algorithm or _algorithm_of(matches[0][1], where)
    value = matches[0][1]
    if len(value) != ALGORITHMS.get(algorithm, -1):
        raise ArtifactError("%s: the checksum of %s has %d hex digits, which is not a %s digest"
                            % (where, name, len(value), algorithm))
    return algorithm, value


def _algorithm_of(value: str, where: str) -> str:
    for algorithm, length in ALGORITHMS.items():
        if len(value) == length:
            return algorithm
    raise ArtifactError("%s: a checksum of %d hex digits is neither SHA-256 nor SHA-512" % (where, len(value)))


def _relative(file_url: str, list_url: str) -> str:
    """The file's path relative to the directory of the checksum list (when under it)."""
    file_path = unquote(urlsplit(file_url).path)
    base = posixpath.dirname(unquote(urlsplit(list_url).path))
    if urlsplit(file_url).netloc == urlsplit(list_url).netloc and file_path.startswith(base.rstrip("/") + "/"):
        return file_path[len(base.rstrip("/")) + 1:]
    return posixpath.basename(file_path)


def checksum_line(value: str, name: str) -> bytes:
    """A one-line checksum file (``sha512sum`` format) for *name*."""
    return ("%s  %s\n" % (value, name)).encode()
