from ansible_collections.airgap.mirror.plugins.module_utils._consumers import registries_conf as R


def test_is_ours():
    assert not R.is_ours('[[registry]]\nprefix = "quay.io"\n')
    assert not R.is_ours("# this file is Ansible managed by airgap.mirror.registries_conf\n")


# ------------------------------------------------------------------ other drop-ins
