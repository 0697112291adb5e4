import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.managed_file import ManagedFileError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.model import (
    DIR_MODE, FILE_MODE, RegistriesConfError,
)
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.render import is_ours
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf import dropin

PAIRS = [{"source": "quay.io", "mirror": "mirror.example.com:8443"}]


def params(path, **kw):
    base = dict(path=str(path), state="present", registries=[], pairs=PAIRS, mirror_insecure=False,
                mirror_by_digest_only=True, mirror_registry_entry=True, create_dirs=False)
    base.update(kw)
    return base


def run(p, check_mode=False, want_diff=True):
    warnings = []
    result = dropin.run(p, check_mode, want_diff, warnings.append, dict(changed=False, path=p["path"], created_dirs=[]))
    return result, warnings


def test_present_check_mode_then_write_then_no_change(tmp_path):
    path = tmp_path / "conf.d" / "999-mirror.conf"
    with pytest.raises(ManagedFileError, match="set create_dirs=true"):
        run(params(path))
    result, _warnings = run(params(path, create_dirs=True), check_mode=True)
    assert result["changed"] and result["created_dirs"] == [str(tmp_path / "conf.d")]
    assert result["diff"]["before"] == "" and result["diff"]["after_header"] == str(path)
    assert not path.parent.exists()
    result, _warnings = run(params(path, create_dirs=True))
    assert path.read_text() == result["content"] and is_ours(result["content"])
    assert os.stat(path).st_mode & 0o7777 == FILE_MODE
    assert os.stat(path.parent).st_mode & 0o7777 == DIR_MODE
    assert result["prefixes"] == ["mirror.example.com:8443", "quay.io"]
    again, _warnings = run(params(path))
    assert not again["changed"]
    os.chmod(path, 0o600)
    fixed, _warnings = run(params(path))
    assert fixed["changed"] and os.stat(path).st_mode & 0o7777 == FILE_MODE


def test_conflicting_dropin_is_warned_about(tmp_path):
    (tmp_path / "000-other.conf").write_text('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n')
    result, warnings = run(params(tmp_path / "999-mirror.conf"))
    assert result["conflicts"][0]["prefix"] == "quay.io"
    assert len(warnings) == 1 and "999-mirror.conf is applied after it" in warnings[0]


def test_absent_removes_only_our_file(tmp_path):
    path = tmp_path / "999-mirror.conf"
    assert not run(params(path, state="absent"))[0]["changed"]
    run(params(path))
    result, _warnings = run(params(path, state="absent"), check_mode=True)
    assert result["changed"] and result["diff"]["after_header"] == "(absent)" and path.exists()
    run(params(path, state="absent"))
    assert not path.exists()
    path.write_text("# by hand\n")
    with pytest.raises(RegistriesConfError, match="refusing to remove it"):
        run(params(path, state="absent"))


def test_refusals(tmp_path):
    with pytest.raises(RegistriesConfError, match="ends in .conf"):
        run(params(tmp_path / "mirror.txt"))
    with pytest.raises(RegistriesConfError, match="nothing to write"):
        run(params(tmp_path / "x.conf", pairs=[]))
