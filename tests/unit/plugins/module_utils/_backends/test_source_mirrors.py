import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._backends import image_mirror as B
from ansible_collections.airgap.mirror.plugins.module_utils._backends.source_mirrors import rules_of_text
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.sources import SourceMirrors, SourceRoutingError
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D = "sha256:" + "3" * 64

CONF = """
unqualified-search-registries = ["registry.access.redhat.com"]

[[registry]]
prefix = "quay.io"
location = "quay.io"
[[registry.mirror]]
location = "proxy.corp/quay-remote"
[[registry.mirror]]
location = "backup.corp:5000/quay"
insecure = true

[[registry]]
location = "registry.redhat.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "proxy.corp/rh"

[[registry]]
prefix = "docker.io"
location = "proxy.corp/dockerhub"

[[registry]]
prefix = "ghcr.io/evil"
blocked = true

[[registry]]
prefix = "*.example.com"
[[registry.mirror]]
location = "proxy.corp/example"
"""


def cands(mirrors, ref):
    return mirrors.candidates(R.parse(ref))


def params(**kw):
    spec = B.argument_spec()["argument_spec"]
    out = {name: opt.get("default") for name, opt in spec.items()}
    out.update({"images": ["quay.io/org/app:1"], "dest": "mirror:5000"})
    out.update(kw)
    return out


def test_a_registries_conf_file_gives_mirrors_in_order():
    rules, insecure = rules_of_text(CONF, "sources.conf")
    assert insecure == ["backup.corp:5000"]
    m = SourceMirrors(rules)
    assert cands(m, "quay.io/org/app:1") == [
        ("proxy.corp", "quay-remote/org/app", True), ("backup.corp:5000", "quay/org/app", True)]
    # digest-only mirror: a tag goes to the primary location, a digest to the mirror
    assert cands(m, "registry.redhat.io/ubi9/ubi:9") == [("registry.redhat.io", "ubi9/ubi", False)]
    assert cands(m, "registry.redhat.io/ubi9/ubi@" + D) == [("proxy.corp", "rh/ubi9/ubi", True)]
    # a rewritten location is itself a pull-through source
    assert cands(m, "nginx:1") == [("proxy.corp", "dockerhub/library/nginx", True)]
    with pytest.raises(SourceRoutingError, match="ghcr.io/evil/x is blocked by sources.conf"):
        cands(m, "ghcr.io/evil/x:1")
    with pytest.raises(SourceRoutingError, match="wildcard"):
        cands(m, "reg.example.com/a:1")
    # the source itself only when allowed
    fallback = SourceMirrors(rules, fallback=True)
    assert cands(fallback, "quay.io/org/app:1")[-1] == ("quay.io", "org/app", False)


@pytest.mark.parametrize("text, message", [
    ("[registries.search]\nregistries = ['quay.io']\n", "version 1 format"),
    ("[[registry]]\nprefix = 'quay.io'\nmirrors = []\n", r"unknown key\(s\) mirrors"),
    ("[[registry]]\nprefix = 'quay.io'\n[[registry.mirror]]\nlocation = 'p.corp'\nweight = 1\n",
     r"mirror #1: unknown key\(s\) weight"),
    ("[[registry]]\nprefix = 'quay.io'\n[[registry.mirror]]\nlocation = 'p.corp'\npull-from-mirror = 'some'\n",
     "pull-from-mirror must be one of"),
    ("[[registry]]\ninsecure = true\n", "neither prefix nor location"),
    ("[[registry]\n", "sources.conf"),
])
def test_what_cannot_be_followed_is_refused(text, message):
    with pytest.raises((UserError, ValueError), match=message):
        rules_of_text(text, "sources.conf")


def test_module_options(tmp_path):
    run = B.prepare(params(source_mirrors={"quay.io": "proxy.corp/q"}), check_mode=False)
    assert cands(run.request.source_mirrors, "quay.io/a/b:1") == [("proxy.corp", "q/a/b", True)]
    assert run.insecure_sources == ()
    conf = tmp_path / "sources.conf"
    conf.write_text(CONF)
    run = B.prepare(params(source_mirrors_file=str(conf), source_mirrors_fallback=True), check_mode=False)
    assert run.insecure_sources == ("backup.corp:5000",) and run.request.source_mirrors.fallback
    assert B.prepare(params(), check_mode=False).request.source_mirrors is None
    with pytest.raises(UserError, match="cannot read"):
        B.prepare(params(source_mirrors_file=str(tmp_path / "missing.conf")), check_mode=False)
    with pytest.raises(UserError, match=r"source_mirrors\[quay.io\]"):
        B.prepare(params(source_mirrors={"quay.io": 5}), check_mode=False)
    pool = B.pool_for(params(source_mirrors_file=str(conf), src_username="u", src_password="p",
                             insecure_registries=["other:5000"]),
                      B.prepare(params(source_mirrors_file=str(conf)), check_mode=False))
    try:
        assert pool.options.insecure("backup.corp:5000") and pool.options.insecure("other:5000")
    finally:
        pool.close()
