from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.render import is_ours


def test_is_ours():
    assert not is_ours('[[registry]]\nprefix = "quay.io"\n')
    assert not is_ours("# this file is Ansible managed by airgap.mirror.registries_conf\n")


# ------------------------------------------------------------------ other drop-ins
