# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action of ``airgap.mirror.transfer_bundle``: runs the module on its host and shows the progress
of pack, verify and unpack (parts and bytes done, rate, time left) while it runs; see
``plugin_utils/_progress_action.py``."""

from __future__ import annotations

from ansible_collections.airgap.mirror.plugins.plugin_utils._progress_action import ProgressAction


class ActionModule(ProgressAction):
    """transfer_bundle with its progress on the console."""

    UNIT = "parts"
