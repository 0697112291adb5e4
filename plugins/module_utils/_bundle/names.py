# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Names: of a bundle, of its files, and of the images it carries (OCI ref names).

A bundle *name* is 1 to 128 letters, digits, '.', '_' and '-'; its files in the bundle directory
are ``<name>.tar.0001`` ... (the parts), ``<name>.sha256``, ``<name>.bundle.json`` (the manifest),
``<name>.bundle.json.asc`` (its detached OpenPGP signature, when signed) and ``.<name>.lock``; an
interrupted pack may leave ``.<name>.<file>.<random>.tmp`` files.
"""

from __future__ import annotations

import os
import re

from .._oci import reference as _ref
from .._oci.errors import OCIError

FORMAT = "airgap.mirror/bundle/v1"
TAR_WRITER = "airgap.mirror/tar-stream/v1"
DEFAULT_NAME = "images"
DEFAULT_PART_SIZE = "4095M"  # fits FAT32 (files up to 4 GiB - 1 byte)
CHUNK = 1024 * 1024
MAX_REF_NAME = 1024

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# org.opencontainers.image.ref.name as the image-layout spec defines it: components of letters and
# digits joined by '-', '.', '_', ':', '@', '+' or '--', separated by '/'
_OCI_REF_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_OCI_REF_NAME = re.compile(r"^%s(?:/%s)*$" % (_OCI_REF_COMPONENT, _OCI_REF_COMPONENT))


def check_name(name: object) -> str:
    """*name* if it can name a bundle; raises ValueError saying what is wrong."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError("bundle name %r: use 1 to 128 letters, digits, '.', '_' and '-', starting with a letter "
                         "or digit" % (name,))
    return name


def check_ref_name(ref_name: object) -> str:
    """*ref_name* if it can name an image in a layout's ``index.json``: an OCI ref name (the
    image-layout grammar, which has no '..', no white space and no leading '/') or a full image
    reference (the distribution grammar, as ``image_mirror`` records them, which also allows a tag
    like ``_x`` or a path component like ``a__b``). Raises ValueError saying what is wrong."""
    if not isinstance(ref_name, str) or not ref_name:
        raise ValueError("ref name %r is not a non-empty string" % (ref_name,))
    if len(ref_name) > MAX_REF_NAME:
        raise ValueError("ref name %r... is longer than %d characters" % (ref_name[:64], MAX_REF_NAME))
    if _OCI_REF_NAME.match(ref_name):
        return ref_name
    if ref_name == ref_name.strip() and not any(c.isspace() or not c.isprintable() for c in ref_name):
        try:
            _ref.parse(ref_name)
        except (OCIError, ValueError):
            pass
        else:
            return ref_name
    raise ValueError("ref name %r is neither an image reference nor an OCI ref name (letters and digits joined "
                     "by '-', '.', '_', ':', '@', '+' and '/'; no white space, no '..', no leading '/')" % (ref_name,))


def part_file_name(name: str, index: int, count: int) -> str:
    """Name of part *index* (1-based) of *count*: ``<name>.tar.0001``."""
    return "%s.tar.%0*d" % (name, max(4, len(str(count))), index)


def manifest_file_name(name: str) -> str:
    return "%s.bundle.json" % name


def signature_file_name(name: str) -> str:
    """The detached armored OpenPGP signature of the manifest (``gpg --verify`` finds the manifest by
    dropping ``.asc``)."""
    return "%s.bundle.json.asc" % name


def sums_file_name(name: str) -> str:
    return "%s.sha256" % name


def lock_file_name(name: str) -> str:
    return ".%s.lock" % name


def part_pattern(name: str) -> re.Pattern[str]:
    """Matches the part files of bundle *name*."""
    return re.compile(r"^%s\.tar\.[0-9]{4,}$" % re.escape(name))


def temp_pattern(name: str) -> re.Pattern[str]:
    """Matches the temporary files an interrupted pack of bundle *name* leaves."""
    return re.compile(r"^\.%s\.(tar\.[0-9]{4,}|sha256|bundle\.json|bundle\.json\.asc)\..*\.tmp$" % re.escape(name))


def bundle_files(directory: str, name: str) -> dict[str, int]:
    """Existing files of bundle *name* in *directory*: {file name: size}."""
    found: dict[str, int] = {}
    try:
        listing = os.listdir(directory)
    except FileNotFoundError:
        return found
    parts, temps = part_pattern(name), temp_pattern(name)
    named = (manifest_file_name(name), sums_file_name(name), signature_file_name(name))
    for entry in listing:
        if parts.match(entry) or temps.match(entry) or entry in named:
            try:
                found[entry] = os.lstat(os.path.join(directory, entry)).st_size
            except FileNotFoundError:
                continue
    return found
