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

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import authfile as _authfile
from ansible_collections.airgap.mirror.plugins.module_utils._common import fileio as _fileio

NO_LOG_PLACEHOLDER = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


class _Reporter:
    """Return results and errors without Ansible's blanket no_log masking of their text.

    Every string we return is built from non-secret values, so the password is removed from
    ``module.no_log_values`` (where Ansible would replace each occurrence of it, anywhere, with
    ``********``) and masked in the reported invocation here. As a safety net, a result that holds
    the encoded ``auth`` value is never returned.
    """

    def __init__(self, module):
        self.module = module
        password = module.params.get("password")
        username = module.params.get("username")
        self.secrets = set()
        self.encoded = set()
        if password:
            self.secrets.add(password)
            if username:
                try:
                    self.encoded.add(_authfile.encode_auth(username, password))
                except _authfile.AuthFileError:
                    pass

    def _prepare(self, result):
        args = dict(self.module.params)
        if args.get("password") is not None:
            args["password"] = NO_LOG_PLACEHOLDER
        result["invocation"] = {"module_args": args}
        text = json.dumps(result, default=str)
        if any(value in text for value in self.encoded):
            # cannot happen by construction; never let it out if it does
            self.module.fail_json(msg="internal error: credentials reached the result; nothing is reported")
        self.module.no_log_values.difference_update(self.secrets)
        return result

    def exit(self, **result):
        self.module.exit_json(**self._prepare(result))

    def fail(self, msg, **result):
        result = self._prepare(dict(result, msg=msg))
        msg = result.pop("msg")
        self.module.fail_json(msg=msg, **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            registry=dict(type="str", required=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            email=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            remove_if_empty=dict(type="bool", default=False),
            create_dirs=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ("username", "password"))],
        supports_check_mode=True,
    )
    report = _Reporter(module)
    params = module.params
    path = params["path"]
    result = dict(changed=False, path=path, registry=params["registry"], registries=[], removed=False,
                  created_dirs=[])

    try:
        target = _fileio.resolve_target(path)
        raw = _fileio.read_bytes(target)
        mode = _fileio.file_mode(target)
        change = _authfile.plan(
            path, raw, mode, params["registry"], params["state"],
            username=params["username"], password=params["password"], email=params["email"],
            remove_if_empty=params["remove_if_empty"],
        )
        result.update(registry=change.registry, registries=change.registries)
        for warning in change.warnings:
            module.warn(warning)

        directory = os.path.dirname(target)
        missing = _fileio.missing_directories(directory) if change.content_changed and not change.remove_file else []
        if missing and not params["create_dirs"]:
            raise _authfile.AuthFileError(
                "%s: directory %s does not exist (set create_dirs=true to create it)" % (path, missing[0])
            )

        if change.remove_file:
            if not module.check_mode:
                os.unlink(target)
        elif change.changed and not module.check_mode:
            if missing:
                _fileio.ensure_directory(directory, _authfile.DIR_MODE)
            if change.content_changed:
                _fileio.atomic_write(target, change.data, _authfile.FILE_MODE)
            else:
                _fileio.set_mode(target, _authfile.FILE_MODE)
        result["created_dirs"] = missing
        result["removed"] = change.remove_file
        result["changed"] = change.changed
        if module._diff:
            result["diff"] = dict(
                before=change.before, after=change.after, before_header=path, after_header=path,
            )
    except _authfile.AuthFileError as exc:
        report.fail(str(exc), **result)
    except OSError as exc:
        report.fail("%s: %s" % (path, exc.strerror or exc), **result)

    report.exit(**result)


if __name__ == "__main__":
    main()
