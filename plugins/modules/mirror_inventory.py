#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mirror_inventory
short_description: Read what an air-gapped mirror registry actually holds into a small, signable inventory file
version_added: 1.1.0
description:
  - Reads the mirror registry - the images of a mirror map (O(mirror_map)), or whole repositories
    (O(repositories)) - and writes an I(inventory) (O(dest), JSON, format C(airgap.mirror/inventory/v1)) with, per
    repository, the tags, the manifests present (digest, media type, size), the configs and layers each
    manifest references with their sizes, the children of each index, and what was looked for but is not there.
    It also records the time it was read (C(read_at)) and a fingerprint of the state (C(state_digest)).
  - The file is small and meant to be carried back out to the connected side, where
    M(airgap.mirror.transfer_bundle) O(airgap.mirror.transfer_bundle#module:previous) takes it as the baseline of
    the next bundle, which then holds exactly what the mirror lacks.
  - "Cost with O(mirror_map): one request per image when the manifests are known - from the inventory already at
    O(dest) or from O(layout) (a C(HEAD) of the map's tag; a second C(HEAD), by digest, only when the tag points
    elsewhere); otherwise a C(GET) of the manifest and one per index child not known yet. With O(repositories): the
    (paginated) catalog, each repository's (paginated) tag list and each tag's manifest tree."
  - Without O(check_blobs), a blob referenced by a present manifest is taken as present, because a registry
    accepts a manifest only once what it references is there. A blob deleted later, behind the mirror map's back,
    is seen only with O(check_blobs=true), which asks for every blob (one C(HEAD) per blob and repository) and every
    index child.
  - A manifest that no tag reaches (pushed by digest only) is not listed by O(repositories); the distribution API
    has no call that lists such manifests. With O(mirror_map) every mapped digest is asked for directly.
  - With O(signing_key), a detached armored OpenPGP signature of the file is written to C(<dest>.asc), checked by
    C(gpg --verify <dest>.asc <dest>) and by M(airgap.mirror.transfer_bundle) with
    O(airgap.mirror.transfer_bundle#module:verify_keys).
extends_documentation_fragment:
  - airgap.mirror.registry
  - airgap.mirror.attributes
  - airgap.mirror.attributes.actiongroup_registry
attributes:
  check_mode:
    support: full
    details:
      - Reads the mirror as a real run does and reports the inventory it would write; writes nothing (no file, no
        signature; a signature is made in memory so a wrong passphrase fails).
  diff_mode:
    support: full
    details: One line per repository (tags, manifests, blobs) and one per missing manifest or blob, before and after.
  idempotent:
    support: full
    details:
      - A file that already describes the same scope and the same state (C(state_digest)) is left as it is, with
        the time it was first read; the time of a re-read alone is never a change. RV(read_at) therefore says since
        when the mirror has been in the state the file describes.
options:
  registry:
    description:
      - The mirror registry, C(host[:port]). Required with O(repositories).
      - With O(mirror_map), the registry whose entries are read; it may be left out when the map points at one
        registry only.
      - Credentials are O(dest_username)/O(dest_password) or the auth files (O(auth_file)).
    type: str
  mirror_map:
    description:
      - A mirror map (as M(airgap.mirror.image_mirror) writes it on the air-gapped side) whose images are read.
    type: path
  repositories:
    description:
      - Repositories of O(registry) to read whole (every tag), or the single value V(all) for every repository of
        the registry's catalog (C(/v2/_catalog)).
    type: list
    elements: str
  dest:
    description:
      - The inventory file. Replaced atomically (mode 0644), only when what it describes changed.
    type: path
    required: true
  layout:
    description:
      - With O(mirror_map), an OCI image layout on this host that holds the images' manifests - the staging layout
        the images were pushed from (C(mirror_images_layout) of C(disk_to_mirror)). The manifest trees found there
        are not fetched (manifests are content-addressed, so they are the mirror's too), and even the first read
        costs one request per image.
    type: path
  check_blobs:
    description:
      - Ask the registry for every blob the present manifests reference, and record the absent ones (the only way
        to see a blob deleted behind the mirror map's back).
    type: bool
    default: false
  concurrency:
    description:
      - Requests in flight.
    type: int
    default: 8
  page_size:
    description:
      - The C(n) asked for per page of the catalog and of tag lists (O(repositories)).
    type: int
    default: 100
  signing_key:
    description:
      - An armored or binary OpenPGP secret key file; the inventory is signed into C(<dest>.asc) (unless a
        signature by that key over the same bytes is there). The key is used in a temporary GnuPG home and never
        appears in a result or a log.
    type: path
  signing_key_passphrase:
    description:
      - The passphrase of O(signing_key), given to C(gpg) through a pipe.
    type: str
notes:
  - Run it on a host that reaches the mirror registry (the air-gapped side), then carry O(dest) and C(<dest>.asc)
    out on the media.
seealso:
  - module: airgap.mirror.transfer_bundle
  - module: airgap.mirror.image_mirror
author:
  - airgap.mirror contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read what the mirror holds of the images of its mirror map, signed
  airgap.mirror.mirror_inventory:
    mirror_map: /srv/mirror/mirror-map.yml
    dest: /media/usb/mirror-inventory.json
    ca_path: /etc/pki/mirror-ca.crt
    signing_key: /etc/airgap/inventory-signing.key

- name: Every repository, every blob asked for (finds blobs deleted by hand)
  airgap.mirror.mirror_inventory:
    registry: registry.internal:5000
    repositories: [all]
    check_blobs: true
    dest: /media/usb/mirror-inventory.json
"""

RETURN = r"""
dest:
  description: The inventory file (absolute path).
  returned: always
  type: str
status:
  description: C(written), C(would_write) (check mode) or C(present) (the file already describes this state).
  returned: always
  type: str
sha256:
  description: The sha256 of the file's bytes (what a bundle made from it records).
  returned: always
  type: str
read_at:
  description: When the state in the file was read first (UTC, ISO 8601).
  returned: always
  type: str
state_digest:
  description: The fingerprint of the mirror's observable state (not of the time it was read).
  returned: always
  type: str
signature:
  description: With O(signing_key) - C(file), C(fingerprint) of the signer's primary key, C(status) (C(written),
    C(present), C(would_write)).
  returned: always
  type: dict
registry:
  description: The registry read.
  returned: always
  type: str
scope:
  description: What was read - C(kind) (C(mirror_map) or C(repositories)) and the map's path or the repositories.
  returned: always
  type: dict
blobs_checked:
  description: Whether every blob was asked for (O(check_blobs)).
  returned: always
  type: bool
totals:
  description: Repositories, tags, manifests, blobs, missing manifests, missing blobs, images and incomplete images.
  returned: always
  type: dict
missing:
  description: Per repository, the manifests and blobs looked for and not found.
  returned: always
  type: dict
incomplete_images:
  description: The mirror map entries whose manifest, or something under it, is not in the mirror.
  returned: always
  type: list
  elements: dict
requests:
  description: Registry requests made.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.mirror.plugins.module_utils._backends import mirror_inventory as backend


def main() -> None:
    module = AnsibleModule(**backend.module_spec())
    try:
        result = backend.run(module.params, module.check_mode)
    except Exception as exc:  # the one place a library error becomes a task failure
        module.fail_json(**backend.failure(exc))
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
