# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The Ansible edge of ``airgap.mirror.yaml_setting``: argument spec and the file transaction
(through the managed-file helper, plus Ansible's backup and file attributes)."""

from __future__ import annotations

import os
from typing import Any

from .._common.fileio import resolve_target
from .._common.managed_file import ManagedFile, diff
from .._common import yamledit as _yamledit


def module_kwargs() -> dict[str, Any]:
    """The keyword arguments of the module's AnsibleModule."""
    return dict(
        argument_spec=dict(
            path=dict(type="path", required=True, aliases=["dest"]),
            key=dict(type="str", no_log=False),
            key_path=dict(type="list", elements="str", no_log=False),
            value=dict(type="raw"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            dotted_keys=dict(type="bool", default=True),
            insert_style=dict(type="str", choices=["auto", "dotted", "nested"], default="auto"),
            create=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
        ),
        mutually_exclusive=[["key", "key_path"]],
        required_if=[["state", "present", ["value"]]],
        required_one_of=[["key", "key_path"]],
        add_file_common_args=True,
        supports_check_mode=True,
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run(module: Any) -> dict[str, Any]:
    """Set or remove the key; returns the module's result (fails the module on errors)."""
    params = module.params
    path = resolve_target(params["path"])
    key = params["key_path"] if params["key_path"] is not None else params["key"]
    name = ".".join(key) if isinstance(key, list) else key
    state = params["state"]

    if os.path.exists(path) and not os.path.isfile(path):
        module.fail_json(msg="%s is not a regular file" % path, path=path, key=name)
    current = ManagedFile.read(path)
    data = current.raw
    exists = data is not None
    if data is None:
        if state == "absent":
            return {"changed": False, "path": path, "key": name, "action": "none", "occurrences": 0}
        if not params["create"]:
            module.fail_json(msg="%s does not exist (set create=true to create it)" % path, path=path, key=name)
        if not os.path.isdir(os.path.dirname(path)):
            module.fail_json(msg="the directory of %s does not exist" % path, path=path, key=name)
        data = b""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        module.fail_json(msg="%s is not UTF-8 text (byte %d): refusing to edit it" % (path, exc.start),
                         path=path, key=name)

    try:
        new_text, details = _yamledit.edit_text(
            text, key, params["value"], state=state, origin=path, dotted_keys=params["dotted_keys"],
            insert_style=params["insert_style"],
        )
    except _yamledit.YAMLEditError as exc:
        module.fail_json(msg=str(exc), path=path, key=name)

    result: dict[str, Any] = {"changed": details["changed"], "path": path, "key": name,
                              "action": details["action"], "occurrences": details["occurrences"]}
    if module._diff:
        result["diff"] = diff(text, new_text, path if exists else "%s (absent)" % path, path)
    if result["changed"] and not module.check_mode:
        if params["backup"] and exists:
            result["backup_file"] = module.backup_local(path)
        mode = current.mode if current.mode is not None else 0o666 & ~_umask()
        try:
            current.apply(new_text.encode("utf-8"), mode, module.check_mode)
        except OSError as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, exc), path=path, key=name)
    if exists or not module.check_mode:
        file_args = module.load_file_common_arguments(params, path=path)
        attributes_diff: dict[str, Any] = {}
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"],
                                                                  diff=attributes_diff)
        if module._diff and attributes_diff:
            result["diff"] = [result["diff"], attributes_diff]
    return result
