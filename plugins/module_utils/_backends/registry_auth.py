# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The Ansible edge of ``airgap.mirror.registry_auth``: its argument spec and a reporter that
keeps credentials out of results without Ansible's blanket no_log masking of their text."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from .._consumers import authfile as _authfile

NO_LOG_PLACEHOLDER = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def module_kwargs() -> dict[str, Any]:
    """The keyword arguments of the module's AnsibleModule."""
    return dict(
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


class Reporter:
    """Return results and errors without Ansible's blanket no_log masking of their text.

    Every string we return is built from non-secret values, so the password is removed from
    ``module.no_log_values`` (where Ansible would replace each occurrence of it, anywhere, with
    ``********``) and masked in the reported invocation here. As a safety net, a result that holds
    the encoded ``auth`` value is never returned.
    """

    def __init__(self, module: Any) -> None:
        self.module = module
        password = module.params.get("password")
        username = module.params.get("username")
        self.secrets: set[str] = set()
        self.encoded: set[str] = set()
        if password:
            self.secrets.add(password)
            if username:
                try:
                    self.encoded.add(_authfile.encode_auth(username, password))
                except _authfile.AuthFileError:
                    pass

    def _prepare(self, result: dict[str, Any]) -> dict[str, Any]:
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

    def exit(self, **result: Any) -> NoReturn:
        self.module.exit_json(**self._prepare(result))
        raise SystemExit(0)  # pragma: no cover - exit_json exits

    def fail(self, msg: str, **result: Any) -> NoReturn:
        result = self._prepare(dict(result, msg=msg))
        msg = result.pop("msg")
        self.module.fail_json(msg=msg, **result)
        raise SystemExit(1)  # pragma: no cover - fail_json exits
