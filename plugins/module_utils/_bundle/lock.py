# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The bundle's lock: ``<bundle dir>/.<name>.lock`` (``flock``, through ``_common/flock``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .._common.flock import LockBusy, flocked
from .errors import BundleError, os_error
from .names import lock_file_name


@contextlib.contextmanager
def bundle_lock(bundle_dir: str, name: str, exclusive: bool, action: str) -> Iterator[None]:
    """Hold the bundle's lock (``<bundle>/.<name>.lock``, ``flock``): a pack holds it alone, verify
    and unpack share it; a second run fails at once instead of waiting. Bundles of other names in
    the same directory are not affected. A directory that does not exist, read-only media and file
    systems without ``flock`` are not locked (no pack can be writing there)."""
    path = os.path.join(bundle_dir, lock_file_name(name))
    stack = contextlib.ExitStack()
    if os.path.isdir(bundle_dir):
        try:
            stack.enter_context(flocked(path, exclusive=exclusive, wait=False, remove=True, optional=True))
        except LockBusy:
            raise BundleError("the bundle %s in %s is in use by another run, which holds its lock %s (a pack holds "
                              "it alone, verify and unpack share it): this %s stopped before touching the bundle; "
                              "run it again when the other run has finished" % (name, bundle_dir, path, action),
                              part=lock_file_name(name)) from None
        except OSError as exc:
            raise BundleError(os_error(exc, "locking the bundle %s in %s (%s)" % (name, bundle_dir, path))) from None
    with stack:
        yield
