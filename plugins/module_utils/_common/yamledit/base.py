# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""PyYAML, the error type and the small helpers every part of the YAML editor shares."""

from __future__ import annotations

import copy
import math
from typing import Any

from ..errors import UserError

try:
    import yaml
    from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
    HAS_YAML = True
    YAML_IMPORT_ERROR: ImportError | None = None
except ImportError as _exc:  # pragma: no cover - exercised by the sanity import test only
    yaml = None  # type: ignore[assignment]
    MappingNode = ScalarNode = SequenceNode = Node = ()  # type: ignore[assignment,misc]
    HAS_YAML = False
    YAML_IMPORT_ERROR = _exc

MERGE_TAG = "tag:yaml.org,2002:merge"

__all__ = ["HAS_YAML", "MERGE_TAG", "MISSING", "MappingNode", "Node", "ScalarNode", "SequenceNode",
           "YAMLEditError", "YAML_IMPORT_ERROR", "construct", "same", "split_key", "yaml"]


class YAMLEditError(UserError, ValueError):
    """The edit cannot be made safely; the message names the file, the key and the line."""


class _Missing:
    """The value of a key that is not there."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


def split_key(key: Any) -> list[str]:
    """A key given as ``"a.b.c"`` or ``["a", "b.c"]`` -> list of segments."""
    if isinstance(key, (list, tuple)):
        segments = [str(s) for s in key]
    elif isinstance(key, str):
        segments = key.split(".")
    else:
        raise YAMLEditError("a key must be a string or a list of strings, not %s" % type(key).__name__)
    if not segments or any(s == "" for s in segments):
        raise YAMLEditError("invalid key %r: empty segment" % (key,))
    return segments


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types (``1`` is not ``True``, ``"1"`` is not ``1``)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def construct(node: Node) -> Any:
    # The constructor mutates merge-key mappings in place: always work on a copy.
    return yaml.constructor.SafeConstructor().construct_object(copy.deepcopy(node), deep=True)
