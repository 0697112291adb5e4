# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Set or remove one key in an existing YAML file without disturbing anything else.

The file is parsed with PyYAML's composer, whose nodes carry start/end marks; the edit is a
surgical text replacement guided by those marks, so comments, key order, quoting and the layout of
every untouched line are kept byte for byte. No ruamel.yaml needed.

Keys are paths of segments. With ``dotted_keys=True`` (Kibana, Elasticsearch, the ECK operator
config) a key written with dots in the file is a path too, so ``xpack.fleet.registryUrl`` is found
whether the file says ``xpack.fleet.registryUrl: ...``, ``xpack: {fleet.registryUrl: ...}`` or a
fully nested ``xpack:\\n  fleet:\\n    registryUrl: ...``. With ``dotted_keys=False`` (ordinary YAML)
dots in the file are part of the key.

Rules:

* an existing key is changed where it is, in the form the file uses; every occurrence is changed
  (a setting written twice, in two forms, would otherwise disagree with itself);
* a missing key goes under the deepest existing block mapping on its path, in that mapping's form
  (dotted keys there -> dotted, otherwise nested), next to the keys sharing the longest prefix with
  it; with nothing on its path it goes at the end of the file, dotted (``dotted_keys``) or nested;
* ``remove`` deletes the key's lines and prunes parents it leaves empty;
* the result is re-parsed before it is returned: it must be one YAML document, every other setting
  must read exactly as before and the key must read back as the requested value, or
  :class:`YAMLEditError` is raised and nothing is written.

Refused with a clear error: several documents in one file, a root that is not a mapping, anchors,
aliases or merge keys (``<<``) touching the edit, inserting into or removing from flow mappings,
replacing a mapping by a scalar, and keys that would collide with existing settings
(``a.b: 1`` when setting ``a.b.c``).

The package: :mod:`.base` (PyYAML, errors, helpers), :mod:`.render` (scalars), :mod:`.reader`
(parse and look up), :mod:`.document` (set / remove) and :mod:`.edit` (:func:`edit_text`, the
checked edit). This module re-exports their API.
"""

from __future__ import annotations

from .base import HAS_YAML, MISSING, YAML_IMPORT_ERROR, YAMLEditError, split_key
from .document import YAMLDocument
from .edit import edit_text, get_values
from .render import double_quote, render_key, render_scalar, render_value

__all__ = [
    "HAS_YAML", "MISSING", "YAML_IMPORT_ERROR", "YAMLDocument", "YAMLEditError", "double_quote",
    "edit_text", "get_values", "render_key", "render_scalar", "render_value", "split_key",
]
