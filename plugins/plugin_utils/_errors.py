# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""One way for filters and lookups to report the library's errors.

``@reported`` wraps a filter: a :class:`UserError` raised below it becomes an
``AnsibleFilterError`` that starts with the filter's name; ``@reported(AnsibleLookupError)``
does the same for a lookup. Other exceptions are bugs and pass through with their traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])


def _wrap(fn: F, error: type[AnsibleError], name: str | None) -> F:
    label = fn.__name__ if name is None else name

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            raise error("%s: %s" % (label, exc) if label else str(exc)) from None

    return wrapper  # type: ignore[return-value]


@overload
def reported(fn: F) -> F:
    ...


@overload
def reported(fn: None = None, *, error: type[AnsibleError] = AnsibleFilterError,
             name: str | None = None) -> Callable[[F], F]:
    ...


def reported(fn: F | None = None, *, error: type[AnsibleError] = AnsibleFilterError,
             name: str | None = None) -> F | Callable[[F], F]:
    """``@reported`` or ``@reported(error=AnsibleLookupError, name="image_list")``.

    ``name=""`` reports the message as it is, for a filter whose messages already start with what
    they are about (the role variable the user set)."""
    if fn is not None:
        return _wrap(fn, error, name)
    return lambda inner: _wrap(inner, error, name)
