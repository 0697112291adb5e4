import os

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._backends import image_mirror as B
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io

D = "sha256:" + "a" * 64
ENTRY = {"source": "quay.io/org/app:1", "digest": D, "media_type": "application/vnd.oci.image.manifest.v1+json",
         "destination": "mirror:5000/org/app:1"}


def params(**kw):
    """The module's parameters, with the defaults of its argument spec."""
    spec = B.argument_spec()["argument_spec"]
    out = {name: opt.get("default") for name, opt in spec.items()}
    out.update({"images": ["quay.io/org/app:1"], "dest": "mirror:5000"})
    out.update(kw)
    return out


def test_defaults_make_the_plain_request():
    run = B.prepare(params(), check_mode=False)
    request = run.request
    assert isinstance(request, MirrorRequest)
    assert request.images == ("quay.io/org/app:1",) and request.dest == "mirror:5000" and request.src is None
    assert request.naming.mapping == "keep" and request.naming.tag_style == "deterministic"
    assert request.limits.concurrency == 8 and request.limits.space_check
    assert request.sharding.active is None and request.lock is None and request.state.state_dir is None
    assert run.upload_chunk_size == 64 << 20 and run.map_path is None


@pytest.mark.parametrize("kw, message", [
    ({"concurrency": 0}, "concurrency must be at least 1"),
    ({"upload_chunk_size": "lots"}, "upload_chunk_size: 'lots' is not a size"),
    ({"upload_chunk_size": "100"}, "upload_chunk_size must be at least 1.0 KiB"),
    ({"shard_count": 3}, "shard_index is required when shard_count is 3"),
    ({"shard_count": 2, "shard_index": 2}, "shard_index"),
    ({"shard_count": 2, "shard_index": 0, "mirror_map": "/m.yml"}, "a sharded run (shard_count=2) does not write"),
    ({"shard_count": 2, "shard_index": 1, "verify": True}, "verify=true is the final run after the workers"),
    ({"shard_wait": -1.0}, "shard_wait must not be negative"),
    ({"src": "oci:"}, "names no path"),
    ({"progress_interval": 0.0}, "progress_interval must be more than 0 seconds"),
])
def test_refused_parameters(kw, message):
    with pytest.raises(UserError) as err:
        B.prepare(params(**kw), check_mode=False)
    assert message in str(err.value)


@pytest.mark.parametrize("text, size", [
    ("64M", 64 << 20), ("64MiB", 64 << 20), ("1g", 1 << 30), ("1536K", 1536 << 10), ("1048576", 1 << 20),
    ("0.5G", 1 << 29), ("64MB", 64 * 1000 ** 2),
])
def test_upload_chunk_size(text, size):
    assert B.prepare(params(upload_chunk_size=text), check_mode=False).upload_chunk_size == size


def test_one_shard_of_one_is_an_ordinary_run():
    run = B.prepare(params(shard_count=1, shard_index=0, mirror_map="/x/map.yml", verify=True), check_mode=False)
    assert run.request.sharding.shard is None and run.request.verify


def test_credentials_in_a_reference_are_refused_and_their_secrets_named():
    with pytest.raises(B.CredentialsInReference) as err:
        B.prepare(params(images=["bob:s3cret@quay.io/org/app:1"]), check_mode=False)
    assert "s3cret" in err.value.secrets and "s3cret" not in str(err.value)
    assert str(err.value).startswith("images: ")
    # a dir: tree names its images by relative path: not references
    assert B.credentials_in_references(params(src="dir:/t", images=["a@b/c"])) == []


def test_the_map_is_the_lockfile_unless_told_otherwise_or_verifying(tmp_path):
    path = tmp_path / "map.yml"
    path.write_text(yaml.safe_dump({"format": "airgap.mirror/v1", "images": [ENTRY]}))
    run = B.prepare(params(mirror_map=str(path)), check_mode=False)
    assert run.request.lock is not None and len(run.request.lock) == 1
    assert run.request.state.previous == run.request.lock
    for kw in ({"use_mirror_map": False}, {"verify": True}):
        other = B.prepare(params(mirror_map=str(path), **kw), check_mode=False)
        assert other.request.lock is None and len(other.request.state.previous) == 1


def test_a_damaged_map_fails_only_as_lockfile(tmp_path):
    path = tmp_path / "map.yml"
    path.write_text("images: [1, 2")
    with pytest.raises(UserError, match="cannot use the mirror map as lockfile: "):
        B.prepare(params(mirror_map=str(path)), check_mode=False)
    run = B.prepare(params(mirror_map=str(path), use_mirror_map=False), check_mode=False)
    assert run.request.state.previous is None
    assert B.prepare(params(mirror_map=str(tmp_path / "none.yml")), check_mode=False).request.lock is None


def test_state_dir_defaults_next_to_the_map(tmp_path):
    run = B.prepare(params(mirror_map=str(tmp_path / "maps" / "m.yml")), check_mode=False)
    assert run.request.state.state_dir == os.path.join(str(tmp_path), "maps", ".airgap-state")
    assert B.state_dir(params(state_dir="/var/s", mirror_map="/x/m.yml")) == "/var/s"


def test_source_registries():
    assert B.source_registries(["quay.io/a:1", {"src": "ghcr.io/b:2"}, "bad ref!", None]) == ["ghcr.io", "quay.io"]


def _report(statuses, entries=()):
    images = [{"source": "quay.io/a/%d:1" % n, "status": s, "error": "quay.io/a/%d:1: broken" % n if s == "failed"
               else None} for n, s in enumerate(statuses)]
    mirror_map = mirrormap_io.coerce(list(entries))
    return {"changed": False, "images": images, "attachments": [],
            "failed": [i for i in images if i["status"] == "failed"],
            "totals": {}, "mirror_map": [e.to_dict() for e in mirror_map], "map": mirror_map,
            "diff": {"before": {"m/a:1": None}, "after": {"m/a:1": D}}}


def test_result_writes_the_map_and_reports_failures(tmp_path):
    path = str(tmp_path / "map.yml")
    run = B.prepare(params(mirror_map=path), check_mode=False)
    out, problems = B.result(_report(["present", "failed"], [ENTRY]), run, diff=True)
    assert out["mirror_map_written"] and out["changed"] and out["mirror_map_path"] == path
    assert problems == ["1 of 2 images failed:\nquay.io/a/1:1: broken"]
    assert mirrormap_io.load(path).entries[0].digest == D
    assert out["diff"] == {"before": "m/a:1 (absent)\n", "after": "m/a:1 %s\n" % D}
    again, _problems = B.result(_report(["present"], [ENTRY]), run, diff=False)
    assert not again["mirror_map_written"] and not again["changed"] and "diff" not in again


def test_a_run_in_which_every_image_failed_leaves_the_map_alone(tmp_path):
    path = str(tmp_path / "map.yml")
    run = B.prepare(params(mirror_map=path), check_mode=False)
    out, problems = B.result(_report(["failed"]), run, diff=False)
    assert out["mirror_map_written"] is False and not os.path.exists(path)
    assert problems[-1] == "the mirror map %s was left as it was: no image was copied or found present" % path
    assert B.map_worth_writing(_report(["failed", "would_copy"]))


def test_check_mode_does_not_write(tmp_path):
    path = str(tmp_path / "map.yml")
    run = B.prepare(params(mirror_map=path), check_mode=True)
    out, _problems = B.result(_report(["would_copy"], [ENTRY]), run, diff=False)
    assert out["mirror_map_written"] and not os.path.exists(path)


def test_result_has_the_timings_of_every_phase_and_the_requests_per_registry(tmp_path):
    run = B.prepare(params(mirror_map=str(tmp_path / "map.yml")), check_mode=False)
    report = dict(_report(["present"], [ENTRY]), timings={"resolve": 1.5, "copy": 2.25},
                  requests={"quay.io": 7, "mirror:5000": 3})
    out, _problems = B.result(report, run, diff=False)
    assert out["requests"] == {"quay.io": 7, "mirror:5000": 3}
    assert out["timings"]["resolve"] == 1.5 and out["timings"]["copy"] == 2.25
    assert 0 <= out["timings"]["write_map"] < 5


def test_a_bad_tag_selector_fails_before_the_run():
    with pytest.raises(UserError, match=r"^quay.io/org/app: tags.semver: 'x.y.z.w' in the range"):
        B.prepare(params(images=["a.io/b:1", {"src": "quay.io/org/app", "tags": {"semver": ">=x.y.z.w"}}]),
                  check_mode=False)
    run = B.prepare(params(images=[{"src": "quay.io/org/app", "tags": {"newest": 2}}]), check_mode=True)
    assert run.request.images == ({"src": "quay.io/org/app", "tags": {"newest": 2}},)


def test_platforms_reach_the_request_and_bad_ones_are_named():
    assert B.prepare(params(), check_mode=False).request.platforms == ()
    run = B.prepare(params(platforms=["linux/amd64", "linux/arm64/v8"]), check_mode=False)
    assert run.request.platforms == ("linux/amd64", "linux/arm64/v8")
    with pytest.raises(UserError, match=r"platforms: platform 'linux' is not of the form os/arch\[/variant\]"):
        B.prepare(params(platforms=["linux/amd64", "linux"]), check_mode=False)


def test_registry_limits_become_the_pools_limits():
    from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.limits import HostLimit
    run = B.prepare(params(registry_limits={"index.docker.io": {"requests_per_second": 0.5},
                                            "default": {"connections": 4}}), check_mode=False)
    assert run.registry_limits is not None
    assert run.registry_limits.for_registry("docker.io") == HostLimit(None, 0.5)
    pool = B.pool_for(params(registry_limits={}), run)
    try:
        assert pool.limiters.get("docker.io").limit == HostLimit(None, 0.5)
        assert pool.limiters.get("mirror:5000").limit == HostLimit(4, None)
    finally:
        pool.close()
    assert B.prepare(params(), check_mode=False).registry_limits.for_registry("quay.io") == HostLimit()


@pytest.mark.parametrize("value, message", [
    ({"quay.io": {"connections": 0}}, "registry_limits.quay.io.connections must be a whole number of at least 1"),
    ({"default": {"requests_per_second": -2}}, "registry_limits.default.requests_per_second must be a number"),
    ({"quay.io": {"burst": 3}}, "registry_limits.quay.io has unknown keys burst"),
])
def test_refused_registry_limits(value, message):
    with pytest.raises(UserError) as err:
        B.prepare(params(registry_limits=value), check_mode=False)
    assert message in str(err.value)
