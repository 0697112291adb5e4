#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: free_space
short_description: Check that a file system has room for a number of bytes, on the host the task runs on
version_added: 1.1.0
description:
  - Reads the free space (for an unprivileged writer) of the file system that holds O(path) and
    fails when O(bytes) plus a margin do not fit; the margin is that of
    O(airgap.mirror.image_mirror#module:space_check), 1% of O(bytes), at least 1 MiB.
  - The preflight on the mirror itself when the mirror's storage is on another host than the push
    (C(delegate_to) that host). The airgap.mirror.mirror_images role runs it with the bytes
    M(airgap.mirror.image_mirror) in check mode says the push sends
    (RV(airgap.mirror.image_mirror#module:totals.bytes_to_copy)).
  - Python standard library only on the target.
author:
  - airgap.mirror contributors (!UNKNOWN)
options:
  path:
    description:
      - An absolute path on the file system to check (for C(docker-registry) its rootdirectory). A
        path that does not exist yet is checked at its nearest existing parent.
    type: path
    required: true
  bytes:
    description:
      - The bytes that are to be written there, a whole number or a size with a unit (C(700M), C(4G),
        C(4GB)). V(0) only reports the free space.
    type: raw
    default: 0
extends_documentation_fragment:
  - airgap.mirror.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads only; the check runs and fails in check mode as in a real run.
  diff_mode:
    support: none
  idempotent:
    support: full
  platform:
    platforms: posix
seealso:
  - module: airgap.mirror.image_mirror
"""

EXAMPLES = r"""
- name: Count the bytes the push sends
  airgap.mirror.image_mirror:
    images: [registry.example.com/app:1.0]
    dest: mirror.example.com:5000
  check_mode: true
  register: plan

- name: Check the mirror's storage on the mirror host
  airgap.mirror.free_space:
    path: /var/lib/docker-registry
    bytes: "{{ plan.totals.bytes_to_copy }}"
  delegate_to: mirror-host
"""

RETURN = r"""
host:
  description: The name of the host the check ran on.
  returned: always
  type: str
  sample: mirror-host
path:
  description: O(path).
  returned: always
  type: str
  sample: /var/lib/docker-registry
free:
  description: Free bytes of the file system of O(path).
  returned: always
  type: int
  sample: 8077312
needed:
  description: O(bytes) in bytes.
  returned: always
  type: int
  sample: 6297088
margin:
  description: The margin kept free beyond RV(needed) (0 when RV(needed) is 0).
  returned: always
  type: int
  sample: 1048576
fits:
  description: Whether RV(needed) plus RV(margin) fit in RV(free); when not, the task fails.
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.mirror.plugins.module_utils._backends import free_space as _backend
from ansible_collections.airgap.mirror.plugins.module_utils._common.space import NotEnoughSpace


def main() -> None:
    module = AnsibleModule(**_backend.module_kwargs())
    try:
        result = _backend.run(module.params)
    except NotEnoughSpace as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except (ValueError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
