# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Shared ``attributes`` descriptions for every module of airgap.mirror.

    Modules extend ``airgap.mirror.attributes`` and state only ``support`` (and ``details``) per
    attribute; modules in the ``registry`` action group (meta/runtime.yml) also extend
    ``airgap.mirror.attributes.actiongroup_registry``.
    """

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second run indicates no change.
      - This assumes that the system controlled or queried by the module has not changed in a relevant way.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
"""

    ACTIONGROUP_REGISTRY = r"""
options: {}
attributes:
  action_group:
    description: >-
      Use C(group/airgap.mirror.registry) in C(module_defaults) to set defaults for this module, for
      example the mirror registry or the credentials file used by a whole play.
    support: full
    membership:
      - airgap.mirror.registry
"""
