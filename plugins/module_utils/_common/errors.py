# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The root of the collection's own errors."""

from __future__ import annotations


class UserError(Exception):
    """A failure whose message is written for the user: it names the image, the file and line, or
    the option at fault, and never holds a credential. Modules and plugins report it as it is, in
    one place at their edge (``fail_json``, ``AnsibleFilterError``); anything else is a bug and
    keeps its traceback."""
