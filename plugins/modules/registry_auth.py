#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: registry_auth
short_description: Manage one registry's credentials in an auth.json, docker config.json or pull secret
version_added: 1.0.0
description:
  - >-
    Sets or removes the credentials of one registry in a credentials file of the shape
    C({"auths": {"host:port": {"auth": "<base64 user:password>", "email": "..."}}}) read by podman,
    skopeo, CRI-O (for example MicroShift's C(/etc/crio/openshift-pull-secret)), buildah and docker.
  - Only the entry of O(registry) is touched; every other entry of C(auths) and every other
    top-level key (C(credHelpers), C(HttpHeaders), ...) is kept as it was. This is how seed
    procedures add the mirror to C(~/.pull-secret-mirror.json) by hand.
  - The file is written with mode C(0600), atomically (temporary file in the same directory,
    fsync, rename), keeping the owner and group of an existing file. A symlink is followed.
  - An existing file that is not valid JSON is an error naming the file and the position; it is
    never overwritten. An empty file counts as an empty document.
  - Nothing secret is returned. The diff shows the registries of the file with every value except
    C(email) replaced by C(<redacted>) (C(<redacted, changed>) where the credentials change).
author:
  - airgap.mirror contributors (!UNKNOWN)
options:
  path:
    description:
      - The credentials file, for example C(/etc/crio/openshift-pull-secret),
        C(~/.config/containers/auth.json), C(${XDG_RUNTIME_DIR}/containers/auth.json) or
        C(~/.docker/config.json).
    type: path
    required: true
  registry:
    description:
      - The key of the entry in C(auths), C(host[:port]) or, for podman, skopeo and CRI-O,
        C(host[:port]/namespace[/repository]) for credentials scoped to a part of the registry.
      - Give it without a scheme; a trailing C(/) is removed.
      - Docker Hub is C(docker.io) for podman, skopeo and CRI-O.
    type: str
    required: true
  username:
    description:
      - User name. Required with O(state=present). Must not contain C(:).
    type: str
  password:
    description:
      - Password or token. Required with O(state=present). Never returned or logged.
    type: str
  email:
    description:
      - E-mail address stored in the entry (pull secrets carry one, see seed 003 section 2.3.1).
      - When omitted, the entry has no C(email).
    type: str
  state:
    description:
      - V(present) sets the entry of O(registry) to exactly C(auth) (and C(email) if given); other
        keys of that entry, such as an C(identitytoken) that would take precedence, are removed.
      - V(absent) removes the entry of O(registry) and nothing else. A missing file stays missing.
    type: str
    choices: [present, absent]
    default: present
  remove_if_empty:
    description:
      - With O(state=absent), delete the file when nothing is left in it once the entry is
        removed (no other C(auths) entry and no other top-level key). A file that still holds
        anything else is only rewritten.
      - Meant for a file that was created only to hold this entry, so that removing the entry
        leaves the host as it was. The C(airgap.mirror.registry_mirror_host) role sets it for the
        files it created.
    type: bool
    default: false
  create_dirs:
    description:
      - Create the missing parent directories of O(path) (mode C(0700)).
      - When V(false), a missing directory is an error.
    type: bool
    default: false
extends_documentation_fragment:
  - airgap.mirror.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Credentials are redacted in the diff; a changed password shows as C(<redacted, changed>).
  idempotent:
    support: full
    details:
      - Documents are compared, not text, so a file formatted differently is not rewritten.
  platform:
    platforms: posix
notes:
  - Ansible masks every occurrence of a C(no_log) value in a module's result, which mangles
    unrelated text (a path or a registry name that happens to contain the password). This module
    builds its results from non-secret values only, masks O(password) in the reported invocation
    itself and checks that the encoded credentials appear nowhere in the result, so paths and
    registry names are reported as they are.
  - When C(credHelpers) in the file names a helper for the registry's host, that helper is asked
    before C(auths); the module warns about it (and about C(credsStore), which docker uses instead
    of C(auths)).
  - This module is not in the C(airgap.mirror.registry) action group. That group's
    C(module_defaults) carry registry connection options (C(ca_path), C(dest_username), ...) that
    this module does not take, and Ansible would reject them.
seealso:
  - module: airgap.mirror.registries_conf
  - name: containers-auth.json(5)
    description: The credentials file format of podman, skopeo, buildah and CRI-O.
    link: https://github.com/containers/image/blob/main/docs/containers-auth.json.5.md
"""

EXAMPLES = r"""
- name: Add the mirror to the pull secret used for mirroring (seed 003 section 2.3)
  airgap.mirror.registry_auth:
    path: ~/.pull-secret-mirror.json
    registry: mirror.example.com:8443
    username: microshift
    password: "{{ vault_mirror_password }}"
    email: microshift@example.com

- name: Let CRI-O on a MicroShift host pull from the mirror
  become: true
  airgap.mirror.registry_auth:
    path: /etc/crio/openshift-pull-secret
    registry: mirror.example.com:8443
    username: "{{ mirror_pull_user }}"
    password: "{{ mirror_pull_password }}"

- name: Credentials for one namespace of the mirror only (podman, skopeo, CRI-O)
  airgap.mirror.registry_auth:
    path: ~/.config/containers/auth.json
    create_dirs: true
    registry: mirror.example.com:8443/elastic
    username: reader
    password: "{{ reader_password }}"

- name: Remove the mirror's entry again, leaving the rest of the file alone
  airgap.mirror.registry_auth:
    path: /etc/crio/openshift-pull-secret
    registry: mirror.example.com:8443
    state: absent
"""

RETURN = r"""
path:
  description: The credentials file (as given).
  returned: always
  type: str
  sample: /etc/crio/openshift-pull-secret
registry:
  description: The C(auths) key that was managed (normalized, without a trailing C(/)).
  returned: always
  type: str
  sample: mirror.example.com:8443
registries:
  description: The keys of C(auths) in the file after the change (in check mode, as it would be).
  returned: always
  type: list
  elements: str
  sample: [cloud.openshift.com, quay.io, registry.redhat.io, mirror.example.com:8443]
removed:
  description:
    - V(true) when the file was deleted (in check mode, would be deleted) because O(remove_if_empty)
      was set and nothing was left in it.
  returned: always
  type: bool
  sample: false
created_dirs:
  description: Directories created for O(path) (in check mode, that would be created).
  returned: always
  type: list
  elements: str
  sample: []
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.mirror.plugins.module_utils._backends import registry_auth as _backend
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import authfile as _authfile


def main() -> None:
    module = AnsibleModule(**_backend.module_kwargs())
    report = _backend.Reporter(module)
    params = module.params
    path = params["path"]
    result: dict[str, Any] = dict(changed=False, path=path, registry=params["registry"], registries=[],
                                  removed=False, created_dirs=[])
    try:
        _authfile.run(params, module.check_mode, module._diff, module.warn, result)
    except UserError as exc:
        report.fail(str(exc), **result)
    except OSError as exc:
        report.fail("%s: %s" % (path, exc.strerror or exc), **result)
    report.exit(**result)


if __name__ == "__main__":
    main()
