#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mirror_prune
short_description: Prune a mirror registry down to what its consumers use, in two phases (plan, apply)
version_added: 1.1.0
description:
  - >-
    V(plan) reads what the mirror O(registry) holds (every tag of every repository of its catalog,
    or of O(repositories)) and the kept set the user names in O(keep), and writes O(plan_file): the
    manifests (with their tags) that no kept image reaches, and the bytes the registry's garbage
    collection would free once they are deleted. The plan records the mirror's state fingerprint.
  - >-
    The kept set is the union of the mirror maps in O(keep.maps) (kept whole) and of the images the
    consumer inputs name (MicroShift release files, ESS C(images_digests.yml), ESS Helm values,
    Elastic Stack / ECK versions, image lists and plain references), each found in the mirror
    through the mirror maps (O(keep.maps) and O(mirror_map)). Kept, in the repository of each kept
    image - its manifest; the children of a kept index (the platforms of a filtered index
    included); its signatures and attachments (C(sha256-<hex>.sig), C(.att), C(.sbom), the carried
    GPG signatures C(.gpgsig)) and the manifests whose C(subject) it is (referrers); and what these
    reach in turn. Everything else in the scope is planned for deletion.
  - >-
    V(apply) reads the mirror again and deletes exactly the plan's manifests, in its order
    (signatures, then images and indexes, then index children), with C(DELETE
    /v2/<name>/manifests/<digest>). In docker distribution 2.8 a tag is deleted by deleting the
    manifest it points to (which removes every tag on it); a tag on a kept manifest therefore stays.
    A plan older than the mirror's current state (the fingerprint differs - something was pushed,
    deleted or retagged since) is refused and nothing is deleted; a plan whose manifests are all
    gone already changes nothing.
  - Deleting manifests frees no space by itself; the registry's garbage collection does, see
    C(docs/prune.md) in the collection (for docker-registry, C(registry garbage-collect) with the
    registry stopped or read-only).
author:
  - airgap.mirror contributors (!UNKNOWN)
options:
  registry:
    description:
      - The mirror registry, C(host[:port]). Its credentials are O(dest_username)/O(dest_password)
        or O(auth_file).
      - It must allow deletes for V(apply) (docker-registry - C(storage.delete.enabled=true),
        C(REGISTRY_STORAGE_DELETE_ENABLED=true)).
    type: str
    required: true
  state:
    description:
      - V(plan) writes O(plan_file); V(apply) deletes what it lists.
    type: str
    choices: [plan, apply]
    default: plan
  plan_file:
    description:
      - The plan (JSON), written by V(plan), read by V(apply). Written atomically; the same plan
        gives the same bytes.
    type: path
    required: true
  keep:
    description:
      - What to keep. Required with O(state=plan).
    type: dict
    suboptions:
      maps:
        description: Mirror maps kept whole (every entry whose destination is O(registry)).
        type: list
        elements: path
        default: []
      images:
        description: Source references to keep (found in the mirror through the maps).
        type: list
        elements: str
        default: []
      image_lists:
        description:
          - Image list files, each a path (a plain list) or C({path, format, query}) with a format of
            the C(airgap.mirror.image_list) lookup (V(microshift), V(ess), V(skopeo_sync), V(list),
            V(query)).
        type: list
        elements: raw
        default: []
      microshift_release:
        description: MicroShift C(release-<arch>.json) files; every image of C(.images) is kept.
        type: list
        elements: path
        default: []
      ess_images_digests:
        description: ESS installer C(images_digests.yml) files.
        type: list
        elements: path
        default: []
      ess_helm_values:
        description:
          - ESS Helm chart values, each a path to the chart's C(values.yaml) or C({chart, site}) with
            the site's values merged in; the image of every enabled component is kept.
        type: list
        elements: raw
        default: []
      eck:
        description:
          - Elastic Stack versions as ECK deploys them, each C({stack_version, eck_version, include,
            exclude}) as the C(airgap.mirror.elastic_images) filter takes them (or a version string).
        type: list
        elements: raw
        default: []
  mirror_map:
    description:
      - Mirror maps the consumer inputs' images are looked up in (by digest, else by tag) without
        being kept whole. The maps of O(keep.maps) are searched too.
    type: list
    elements: path
    default: []
  repositories:
    description:
      - The repositories to prune (and to fingerprint). Default - every repository of the catalog.
      - Bytes freed are counted from what the scope holds; a blob also used by a repository out of
        the scope is counted although garbage collection keeps it.
    type: list
    elements: str
  on_missing:
    description:
      - What to do when a consumer input names an image no mirror map places in O(registry)
        (the prune cannot know where it is) - V(fail) (default) or V(warn) and go on without it.
    type: str
    choices: [fail, warn]
    default: fail
extends_documentation_fragment:
  - airgap.mirror.attributes
  - airgap.mirror.attributes.actiongroup_registry
  - airgap.mirror.registry
attributes:
  check_mode:
    support: full
    details:
      - V(plan) does not write O(plan_file); V(apply) lists what it would delete and deletes nothing.
  diff_mode:
    support: full
    details:
      - V(plan) - the plan file before and after; V(apply) - the manifests and tags deleted.
  idempotent:
    support: full
    details:
      - The same mirror and kept set give the same plan file; a plan applied already changes nothing.
  platform:
    platforms: posix
notes:
  - The files O(plan_file), O(mirror_map) and those of O(keep) are on the host the module runs on.
  - A manifest pushed by digest only (no tag reaches it) is not seen - the registry API cannot list it.
seealso:
  - module: airgap.mirror.image_mirror
"""

EXAMPLES = r"""
- name: Plan - keep what the new MicroShift release and the ECK stack use
  airgap.mirror.mirror_prune:
    registry: mirror.example.com:8443
    dest_username: admin
    dest_password: "{{ vault_mirror_admin_password }}"
    ca_path: /etc/pki/mirror-ca.pem
    plan_file: /var/lib/airgap/prune-plan.json
    mirror_map: [/var/lib/airgap/mirror-map.yml]
    keep:
      microshift_release: [/usr/share/microshift/release/release-x86_64.json]
      eck:
        - {stack_version: 8.16.1, eck_version: 3.1.0}
  register: prune_plan

- name: Show what would go
  ansible.builtin.debug:
    msg: "{{ prune_plan.manifests | length }} manifests, {{ prune_plan.bytes_freed_human }} after garbage collection"

- name: Apply the plan (refused if the mirror changed since)
  airgap.mirror.mirror_prune:
    registry: mirror.example.com:8443
    dest_username: admin
    dest_password: "{{ vault_mirror_admin_password }}"
    ca_path: /etc/pki/mirror-ca.pem
    plan_file: /var/lib/airgap/prune-plan.json
    state: apply
"""

RETURN = r"""
state:
  description: V(plan) or V(apply).
  returned: always
  type: str
plan_file:
  description: The plan file.
  returned: always
  type: str
fingerprint:
  description: The mirror's state fingerprint the plan was made from.
  returned: always
  type: str
tags:
  description: The tags the plan deletes, C(repository:tag) (they go with their manifests).
  returned: always
  type: list
  elements: str
manifests:
  description: The plan's manifests, in deletion order, C({repository, digest, media_type, tags, kind}).
  returned: always
  type: list
  elements: dict
bytes_freed:
  description: Bytes the registry's garbage collection frees after the plan is applied (each blob once).
  returned: always
  type: int
bytes_freed_human:
  description: RV(bytes_freed) for people.
  returned: always
  type: str
kept:
  description: Kept images placed in the mirror.
  returned: when O(state=plan)
  type: int
kept_manifests:
  description: Manifests kept (kept images and what they reach).
  returned: when O(state=plan)
  type: int
absent:
  description: Kept images the mirror does not hold (C(repository@digest)); also warned.
  returned: when O(state=plan)
  type: list
  elements: str
deleted:
  description: The manifests deleted (in check mode, that would be deleted).
  returned: when O(state=apply)
  type: list
  elements: dict
already_applied:
  description: V(true) when the mirror changed since the plan but none of its manifests is left.
  returned: when O(state=apply)
  type: bool
"""

import traceback
from importlib.util import find_spec

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.airgap.mirror.plugins.module_utils._backends import mirror_prune as B
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError


def main() -> None:
    module = AnsibleModule(**B.argument_spec())
    if find_spec("httpx") is None:  # imported with the registry client
        module.fail_json(msg=missing_required_lib("httpx"), exception="No module named 'httpx'")
    try:
        result = B.run(module.params, module.check_mode, module.warn)
    except (UserError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # report, with the traceback, instead of a bare module failure
        module.fail_json(msg="unexpected error: %s: %s" % (type(exc).__name__, exc), exception=traceback.format_exc())
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
