import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs
from ansible_collections.airgap.mirror.plugins.module_utils._engine.repos import RegistryRepo
from ansible_collections.airgap.mirror.plugins.module_utils._engine.sources import (
    Location, MirroredRepo, Rule, SourceMirrors, SourceRoutingError, source_repo,
)

D = "sha256:" + "2" * 64
MIRRORS = {"quay.io": "proxy.corp/quay-remote", "docker.io": "proxy.corp/dockerhub",
           "registry.redhat.io/ubi9": "proxy.corp/rh-ubi9", "quay.io/org/special": ["p1.corp/a", "p2.corp:5000/b"]}


def cands(mirrors, ref):
    return mirrors.candidates(R.parse(ref))


@pytest.fixture
def pool():
    p = ClientPool()
    yield p
    p.close()


def test_longest_prefix_wins_on_path_boundaries():
    m = SourceMirrors.from_dict(MIRRORS)
    assert cands(m, "quay.io/org/app:1.0") == [("proxy.corp", "quay-remote/org/app", True)]
    assert cands(m, "quay.io/org/special:1") == [("p1.corp", "a", True), ("p2.corp:5000", "b", True)]
    assert cands(m, "quay.io/org/special-x:1") == [("proxy.corp", "quay-remote/org/special-x", True)]
    assert cands(m, "quay.io/org/special/sub:1") == [("p1.corp", "a/sub", True), ("p2.corp:5000", "b/sub", True)]
    assert cands(m, "registry.redhat.io/ubi9/ubi:9.4") == [("proxy.corp", "rh-ubi9/ubi", True)]
    assert cands(m, "registry.redhat.io/ubi9-minimal:1") == [("registry.redhat.io", "ubi9-minimal", False)]
    assert cands(m, "ghcr.io/x/y:1") == [("ghcr.io", "x/y", False)]


def test_docker_hub_names_are_normalized():
    m = SourceMirrors.from_dict({"index.docker.io/library": "proxy.corp/hub-official", "docker.io": "proxy.corp/hub"})
    assert cands(m, "nginx") == [("proxy.corp", "hub-official/nginx", True)]
    assert cands(m, "bitnami/redis:7") == [("proxy.corp", "hub/bitnami/redis", True)]


def test_fallback_appends_the_source_or_primary_location():
    m = SourceMirrors.from_dict({"quay.io": "proxy.corp/q"}, fallback=True)
    assert cands(m, "quay.io/a/b:1") == [("proxy.corp", "q/a/b", True), ("quay.io", "a/b", False)]
    rule = Rule("quay.io", "", (Location("proxy.corp", "q"),), primary=Location("other.corp", "quay"))
    assert SourceMirrors([rule], fallback=True).candidates(R.parse("quay.io/a/b:1"))[-1] == \
        ("other.corp", "quay/a/b", True)
    # no mirror applies: the primary location, as containers/image does
    assert SourceMirrors([rule]).candidates(R.parse("quay.io/a/b:1"))[1:] == []


def test_digest_only_and_tag_only_mirrors():
    rule = Rule("quay.io", "", (Location("d.corp", "", digest_only=True), Location("t.corp", "", tag_only=True)))
    m = SourceMirrors([rule])
    assert cands(m, "quay.io/a/b:1") == [("t.corp", "a/b", True)]
    assert cands(m, "quay.io/a/b@" + D) == [("d.corp", "a/b", True)]


def test_blocked_and_broken_rules_name_the_image():
    m = SourceMirrors([Rule("quay.io", "bad", blocked=True, origin="f.conf: [[registry]] #1"),
                       Rule("*.example.com", error="wildcards are not supported")])
    with pytest.raises(SourceRoutingError, match=r"quay.io/bad/x is blocked by f.conf: \[\[registry\]\] #1"):
        cands(m, "quay.io/bad/x:1")
    with pytest.raises(SourceRoutingError, match="wildcards are not supported"):
        cands(m, "reg.example.com/a:1")
    assert cands(m, "quay.io/good/x:1") == [("quay.io", "good/x", False)]
    exact = SourceMirrors([Rule("*.example.com", error="wildcards"),
                           Rule("a.example.com", mirrors=(Location("p.corp"),))])
    assert cands(exact, "a.example.com/x:1") == [("p.corp", "x", True)]


def test_bad_options_are_refused_by_name():
    with pytest.raises(ValueError, match=r"source_mirrors\[quay.io\].*list"):
        SourceMirrors.from_dict({"quay.io": []})
    with pytest.raises(ValueError, match="source_mirrors.*scheme"):
        SourceMirrors.from_dict({"quay.io": "https://proxy.corp/q"})
    with pytest.raises(ValueError, match="more than once"):
        SourceMirrors.from_dict({"docker.io": "a.corp/x", "index.docker.io": "b.corp/y"})
    with pytest.raises(ValueError, match="must be a dict"):
        SourceMirrors.from_dict(["quay.io"])  # type: ignore[arg-type]
    with pytest.raises(SourceRoutingError, match="names no repository"):
        cands(SourceMirrors.from_dict({"quay.io/a/b": "proxy.corp"}), "quay.io/a/b:1")
    assert SourceMirrors.from_dict({"quay.io": "p.corp/q", "docker.io": ["h.corp/x", "p.corp/h"]}).hosts() == \
        ["h.corp", "p.corp"]


def test_source_repo_keeps_the_real_name(pool):
    m = SourceMirrors.from_dict(MIRRORS)
    repo = source_repo(pool, R.parse("quay.io/org/app:1.0"), m)
    assert isinstance(repo, MirroredRepo)
    assert repo.describe("1.0") == "quay.io/org/app:1.0" and repo.describe(D) == "quay.io/org/app@" + D
    assert repo.via is None  # nothing fetched yet
    plain = source_repo(pool, R.parse("ghcr.io/x/y:1"), m)
    assert isinstance(plain, RegistryRepo) and not isinstance(plain, MirroredRepo)
    assert plain.describe() == "ghcr.io/x/y"


def test_build_jobs_names_destinations_by_the_real_source(pool):
    m = SourceMirrors.from_dict(MIRRORS)
    jobs, failed = build_jobs(["quay.io/org/app:1.0", "nginx:1.27"], "mirror:5000/m", pool, sources=m)
    assert not failed
    assert [j.source for j in jobs] == ["quay.io/org/app:1.0", "docker.io/library/nginx:1.27"]
    assert [j.destination for j in jobs] == ["mirror:5000/m/org/app:1.0", "mirror:5000/m/library/nginx:1.27"]
    assert [(r.client.registry, r.repository) for r, _via in jobs[1].src.candidates] == \
        [("proxy.corp", "dockerhub/library/nginx")]
    blocked = SourceMirrors([Rule("quay.io", blocked=True)])
    jobs, failed = build_jobs(["quay.io/org/app:1.0"], "mirror:5000/m", pool, sources=blocked)
    assert not jobs and "quay.io/org/app is blocked" in str(failed[0].error)
