import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import Naming
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs, parse_location

D = "sha256:" + "1" * 64


@pytest.fixture
def pool():
    p = ClientPool()
    yield p
    p.close()


def test_parse_location():
    assert parse_location("oci:/x/y") == ("oci", "/x/y")
    assert parse_location("oci:///x/y") == ("oci", "/x/y")
    assert parse_location("dir:rel") == ("dir", "rel")
    assert parse_location("mirror:5000/ns") == ("registry", "mirror:5000/ns")
    with pytest.raises(ValueError):
        parse_location("oci:")


def test_registry_destinations_and_tags(pool):
    jobs, failed = build_jobs(["quay.io/org/app:1.0", "quay.io/org/app@" + D, "nginx",
                               {"src": "quay.io/org/tool:2", "dest": "mirror:5000/custom/tool"}],
                              "mirror:5000/ns", pool)
    assert not failed
    assert [j.destination for j in jobs] == [
        "mirror:5000/ns/org/app:1.0",
        "mirror:5000/ns/org/app:mirror-sha256-" + "1" * 64,
        "mirror:5000/ns/library/nginx:latest",
        "mirror:5000/custom/tool:2",
    ]
    assert jobs[1].expect_digest == D and jobs[2].source == "docker.io/library/nginx:latest"


def test_timestamp_tags_are_the_seeds_scheme(pool):
    jobs, _failed = build_jobs(["quay.io/a/b@" + D, "quay.io/a/c:1"], "m:5000", pool,
                               naming=Naming(tag_style="timestamp"))
    assert jobs[0].dest_ident.startswith("mirror-") and jobs[0].dest_ident.endswith("-1")
    assert jobs[1].dest_ident == "1"


def test_duplicates_collapse_and_collisions_fail(pool):
    jobs, failed = build_jobs(["quay.io/a/app:1", "quay.io/a/app:1", "ghcr.io/a/app:1"], "m:5000", pool)
    assert jobs == []
    assert sorted(f.source for f in failed) == ["ghcr.io/a/app:1", "quay.io/a/app:1"]
    assert "would both be written to m:5000/a/app:1" in str(failed[0].error)


def test_bad_entries_fail_by_name(pool, tmp_path):
    jobs, failed = build_jobs(["quay.io/Bad/x", {"dest": "x"}, 42, "ok.io/a:1"], "m:5000", pool)
    assert [j.source for j in jobs] == ["ok.io/a:1"]
    messages = [str(f.error) for f in failed]
    assert "invalid image reference 'quay.io/Bad/x'" in messages[0]
    assert "needs 'src'" in messages[1] and "must be a reference string" in messages[2]
    with pytest.raises(ValueError, match="'all' needs src"):
        build_jobs(["all"], "m:5000", pool)


def test_layout_destination_records_full_reference(pool, tmp_path):
    jobs, failed = build_jobs(["quay.io/org/app:1.0"], "oci:%s" % tmp_path, pool)
    assert not failed
    assert jobs[0].destination == "oci:%s:quay.io/org/app:1.0" % tmp_path


def test_a_layout_path_with_a_colon_is_refused_before_anything_is_done(pool, tmp_path):
    with pytest.raises(ValueError, match="contains ':'"):
        build_jobs(["quay.io/a/b:1"], "oci:%s/x:y" % tmp_path, pool)
    assert not (tmp_path / "x:y").exists()


def test_platforms_of_the_run_and_of_one_entry(pool):
    from ansible_collections.airgap.mirror.plugins.module_utils._oci.platforms import Platform
    jobs, failed = build_jobs(["quay.io/org/a:1", {"src": "quay.io/org/b:1", "platforms": ["linux/arm64/v8"]},
                               {"src": "quay.io/org/c:1", "platforms": []},
                               {"src": "quay.io/org/d:1", "platforms": ["arm64"]},
                               {"src": "quay.io/org/e:1", "platforms": "linux/amd64"}],
                              "m:5000", pool, platforms=["linux/amd64", "linux/s390x"])
    assert [j.platform_filter for j in jobs] == [
        (Platform("linux", "amd64"), Platform("linux", "s390x")), (Platform("linux", "arm64", "v8"),), ()]
    errors = {j.source: str(j.error) for j in failed}
    assert "platforms of quay.io/org/d:1: platform 'arm64' is not of the form os/arch[/variant]" in \
        errors["quay.io/org/d:1"]
    assert "platforms of quay.io/org/e:1 must be a list" in errors["quay.io/org/e:1"]
    with pytest.raises(ValueError, match="'linux/' is not of the form"):
        build_jobs(["quay.io/org/a:1"], "m:5000", pool, platforms=["linux/"])
