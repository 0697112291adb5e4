# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""HTTP for the registry client: TLS contexts, retries and deadlines, error answers, the client's
settings and the transport that sends requests with authentication and retries."""
