#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: host_record
short_description: Keep a record, on a host, of the directories and files a role created there
version_added: 1.1.0
description:
  - A role that writes files into directories that may not exist records, before it creates
    anything, which of those directories (and which of its files) are missing. O(state=absent)
    later removes the record and exactly those directories, and only when they are empty, so that
    nothing that was on the host before goes.
  - >-
    The record is a JSON file
    C({"created_dirs": [...], "created_files": [...], "format": "..."}), written atomically
    (temporary file, fsync, rename) with mode C(0644); its missing directories are created with
    mode C(0755) and recorded too.
  - The airgap.mirror.registry_mirror_host role uses it.
author:
  - airgap.mirror contributors (!UNKNOWN)
options:
  path:
    description:
      - The record file, an absolute path.
    type: path
    required: true
  format:
    description:
      - The record's C(format), naming the role that owns it. A record of another format is an
        error (it is not this role's); a record without C(format) is taken as this one.
    type: str
    default: airgap.mirror/host_record/v1
  state:
    description:
      - V(query) reads the record (and which of O(dirs) and O(files) are missing) and changes nothing.
      - V(present) adds to the record the directories of O(dirs) (each with its parents) and the
        O(files) that do not exist now, and writes it when that changes it. When the record would
        stay empty, nothing is written.
      - V(absent) removes the record, then the directories it lists that are empty, deepest first.
        The files it lists are left to the caller (the record says which ones the role created).
    type: str
    choices: [query, present, absent]
    default: present
  dirs:
    description:
      - With O(state=present) or O(state=query), the directories the caller is about to create
        (or to write into); every missing one, and every missing parent, is recorded.
    type: list
    elements: path
    default: []
  files:
    description:
      - With O(state=present) or O(state=query), the files the caller is about to create; the
        missing ones are recorded.
    type: list
    elements: path
    default: []
  removed_paths:
    description:
      - With O(state=absent), the paths earlier tasks of this run removed. In check mode, where
        they were not removed, they count as gone when the module decides whether a directory
        would be empty, so that check mode reports what a real run would remove.
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - airgap.mirror.attributes
attributes:
  check_mode:
    support: full
    details:
      - With O(state=absent) the directories that would be removed are those that would be empty
        once the record and O(removed_paths) are gone.
  diff_mode:
    support: full
    details:
      - The diff is the record's text before and after; with O(state=absent) also the directories
        removed.
  idempotent:
    support: full
  platform:
    platforms: posix
seealso:
  - module: ansible.builtin.file
"""

EXAMPLES = r"""
- name: Record what the role is about to create
  airgap.mirror.host_record:
    path: /var/lib/airgap-mirror/my_role.json
    format: airgap.mirror/my_role/v1
    dirs:
      - /etc/containers/registries.conf.d
      - /etc/crio
    files:
      - /etc/crio/openshift-pull-secret

- name: Read the record
  airgap.mirror.host_record:
    path: /var/lib/airgap-mirror/my_role.json
    format: airgap.mirror/my_role/v1
    state: query
  register: my_record

- name: Remove the record and the directories the role created, when they are empty
  airgap.mirror.host_record:
    path: /var/lib/airgap-mirror/my_role.json
    format: airgap.mirror/my_role/v1
    state: absent
    removed_paths:
      - /etc/crio/openshift-pull-secret
"""

RETURN = r"""
path:
  description: The record file.
  returned: always
  type: str
  sample: /var/lib/airgap-mirror/my_role.json
exists:
  description: Whether the record file existed before the task.
  returned: always
  type: bool
  sample: true
record:
  description:
    - The record after the task (O(state=present)), or as it was read (O(state=query),
      O(state=absent)); empty lists when there is none.
  returned: always
  type: dict
  contains:
    format:
      description: The record's format.
      type: str
      sample: airgap.mirror/my_role/v1
    created_dirs:
      description: The directories the role created, sorted.
      type: list
      elements: str
      sample: [/etc/crio, /var/lib/airgap-mirror]
    created_files:
      description: The files the role created, sorted.
      type: list
      elements: str
      sample: [/etc/crio/openshift-pull-secret]
missing:
  description:
    - Of the directories of O(dirs) (with their parents) and of O(files), those that did not exist
      before the task, directories first.
  returned: when O(state=query) or O(state=present)
  type: list
  elements: str
  sample: [/etc/crio, /etc/crio/openshift-pull-secret]
removed_dirs:
  description: The directories removed (in check mode, that would be removed), deepest first.
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [/var/lib/airgap-mirror, /etc/crio]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.mirror.plugins.module_utils._common import hostrecord as _hr
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError


def _diff(path: str, before: str, after: str) -> dict[str, str]:
    return {"before": before, "after": after, "before_header": path if before else "%s (absent)" % path,
            "after_header": path if after else "%s (absent)" % path}


def run(params: dict, check_mode: bool, want_diff: bool) -> dict:
    """The task's result; raises UserError (bad record, relative path) or OSError."""
    path = _hr.check_absolute([params["path"]], "path")[0]
    fmt = params["format"]
    state = params["state"]
    old = _hr.read(path, fmt)
    current = old or _hr.Record(fmt)
    result: dict = {"changed": False, "path": path, "exists": old is not None, "record": current.to_dict()}
    before = old.dumps() if old else ""

    if state == "query":
        result["missing"] = _hr.missing(params["dirs"], params["files"])
    elif state == "present":
        result["missing"] = _hr.missing(params["dirs"], params["files"])
        new = _hr.plan_present(old, fmt, path, params["dirs"], params["files"])
        result["record"] = new.to_dict()
        if not current.same_paths(new):
            result["changed"] = True
            if want_diff:
                result["diff"] = _diff(path, before, new.dumps())
            if not check_mode:
                _hr.write(path, new)
    else:
        if check_mode:
            removed = _hr.removable_dirs(current, [path] + list(params["removed_paths"]) if old else
                                         list(params["removed_paths"]))
        else:
            if old is not None:
                _hr.remove_file(path)
            removed = _hr.remove_dirs(current)
        result["removed_dirs"] = removed
        result["changed"] = old is not None or bool(removed)
        if want_diff and result["changed"]:
            listing = "".join(d + "/\n" for d in removed)
            result["diff"] = [_diff(path, before, ""),
                              {"before": listing, "after": "", "before_header": "directories removed",
                               "after_header": "directories removed"}]
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            format=dict(type="str", default=_hr.DEFAULT_FORMAT),
            state=dict(type="str", choices=["query", "present", "absent"], default="present"),
            dirs=dict(type="list", elements="path", default=[]),
            files=dict(type="list", elements="path", default=[]),
            removed_paths=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode, module._diff)
    except UserError as exc:
        module.fail_json(msg=str(exc), path=module.params["path"])
    except OSError as exc:
        module.fail_json(msg="%s: %s" % (module.params["path"], exc), path=module.params["path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
