"""image_mirror's signature options, read before anything is resolved."""

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._backends.signature_options import trust_of
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError


def _policy(tmp_path, body=None):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(body or {"default": [{"type": "insecureAcceptAnything"}]}))
    return str(path)


def test_without_a_policy_nothing_is_verified_and_the_other_options_are_refused(tmp_path):
    assert trust_of({"signature_policy": None, "registries_d": None, "lookaside_dir": None}) is None
    for option in ("registries_d", "lookaside_dir"):
        params = {"signature_policy": None, "registries_d": None, "lookaside_dir": None, option: str(tmp_path)}
        with pytest.raises(UserError, match="^%s needs signature_policy" % option):
            trust_of(params)


def test_the_files_are_read_at_once_and_bad_paths_named(tmp_path):
    trust = trust_of({"signature_policy": _policy(tmp_path), "registries_d": str(tmp_path),
                      "lookaside_dir": str(tmp_path / "out")})
    assert trust is not None and trust.lookaside_dir == str(tmp_path / "out")
    assert trust.policy.requirements_for("quay.io/org/app:1")  # insecureAcceptAnything, from the file
    with pytest.raises(UserError, match="registries_d: .*/nothing is not a directory"):
        trust_of({"signature_policy": _policy(tmp_path), "registries_d": str(tmp_path / "nothing"),
                  "lookaside_dir": None})
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="lookaside_dir: .*/file exists and is not a directory"):
        trust_of({"signature_policy": _policy(tmp_path), "registries_d": None, "lookaside_dir": str(tmp_path / "file")})
    with pytest.raises(UserError, match="fulcio"):
        trust_of({"signature_policy": _policy(tmp_path, {"default": [{"type": "sigstoreSigned", "fulcio": {}}]}),
                  "registries_d": None, "lookaside_dir": None})
