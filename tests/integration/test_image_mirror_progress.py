"""airgap.mirror.image_mirror shows its progress while it runs (the action plugin, issue 16):
the source registry sits behind a proxy that slows its blobs down, and ``ansible-playbook``
prints lines of images and bytes done, the rate and the time left before the task ends; the
result is the same without progress."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror the images
      airgap.mirror.image_mirror:
        images: "{{ images }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
        mirror_map: "{{ map_path }}"
        concurrency: 1
        progress: "{{ progress }}"
        progress_interval: 1
        progress_file: "{{ progress_file | default(omit) }}"
"""

#: keys whose values depend on the clock, the process or the destination's name
VOLATILE = ("seconds", "peak_rss_bytes", "timings")


def _stable(value, replace):
    """*value* without what changes from one run to the next."""
    if isinstance(value, dict):
        return {_stable(k, replace): _stable(v, replace) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v, replace) for v in value]
    if isinstance(value, str):
        for old, new in replace.items():
            value = value.replace(old, new)
    return value


def test_progress_lines_while_a_slow_copy_runs_and_the_same_result_without(
        tmp_path, plain_registry, sample_layout, registry_factory, ansible_run):
    seeded = sample_layout.seed(plain_registry, prefix="progress-test/")
    unique = {}
    for image in sample_layout.images.values():
        unique.update(image.blobs())
    total = sum(unique.values())  # blobs and manifests: a little more than the blobs the copy counts
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    with FaultProxy(plain_registry).start() as proxy:
        images = sorted(ref.replace(plain_registry.host, proxy.host) for ref in seeded.values())
        # the whole set in about 6 s: several progress lines. These small blobs run on the light
        # workers, four at once with concurrency 1 (Limits.small_requests), each throttled alone
        proxy.add_rule("GET", r"/blobs/sha256:", throttle=max(256, total // (6 * 4)), times=None)
        slow, fast = registry_factory(), registry_factory()
        progress_file = tmp_path / "progress.jsonl"
        common = {"images": images}

        res = ansible_run.playbook(play, extra_vars=dict(
            common, dest=slow.host + "/m", progress=True, insecure=[proxy.host, slow.host],
            map_path=str(tmp_path / "slow.yml"), progress_file=str(progress_file)))
        assert res.rc == 0, res.output
        with_progress = res.one("Mirror the images")["result"]

        proxy.clear_rules()
        res_plain = ansible_run.playbook(play, extra_vars=dict(
            common, dest=fast.host + "/m", progress=False, insecure=[proxy.host, fast.host],
            map_path=str(tmp_path / "fast.yml")))
        assert res_plain.rc == 0, res_plain.output
        without = res_plain.one("Mirror the images")["result"]

    lines = [line for line in res.stdout.splitlines() if line.startswith("image_mirror: ")]
    states = [line for line in lines if re.search(r"\d+/%d images, .*/s" % len(images), line)]
    assert len(states) >= 2, res.output
    assert any(re.search(r"~[\d hmins]+ left", line) for line in states), res.output
    for image in images:
        assert any(line.startswith("image_mirror: copied %s, " % image) for line in lines), res.output
    # the lines come before the task's result
    assert res.stdout.index(states[0]) < res.stdout.index("changed: [localhost]"), res.output
    assert not [line for line in res_plain.stdout.splitlines() if line.startswith("image_mirror: ")]

    # the file has the same, for other tools
    records = [json.loads(line) for line in progress_file.read_text().splitlines()]
    assert records[0]["event"] == "start" and records[-1]["event"] == "end"
    ended = [r for r in records if r["event"] == "image"]
    assert sorted(r["image"] for r in ended) == images
    assert ended[-1]["images_done"] == ended[-1]["images_total"] == len(images)
    unique_bytes = with_progress["totals"]["unique_bytes"]
    assert max(r["bytes_done"] for r in records) == records[-1]["bytes_total"] == unique_bytes, records[-3:]

    # the result: the same, but for the clock and the destination's name
    assert set(with_progress["timings"]) == {"resolve", "copy", "write_map"}
    assert with_progress["timings"]["copy"] > 2  # the slowed copy
    assert set(with_progress["requests"]) == {proxy.host, slow.host}
    with_progress["invocation"]["module_args"].pop("progress_file")
    without["invocation"]["module_args"].pop("progress_file")
    with_progress["invocation"]["module_args"].pop("progress")
    without["invocation"]["module_args"].pop("progress")
    assert _stable(with_progress["invocation"], {slow.host: "DEST", "slow.yml": "MAP"}) == \
        _stable(without["invocation"], {fast.host: "DEST", "fast.yml": "MAP"})
    assert _stable(with_progress, {slow.host: "DEST", "slow.yml": "MAP"}) == \
        _stable(without, {fast.host: "DEST", "fast.yml": "MAP"})


def test_check_mode_and_progress_off_print_no_progress(tmp_path, plain_registry, sample_layout, registry_factory,
                                                       ansible_run):
    seeded = sample_layout.seed(plain_registry, prefix="progress-check/")
    dest = registry_factory()
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    extra = {"images": sorted(seeded.values()), "insecure": [plain_registry.host, dest.host],
             "dest": dest.host + "/m", "progress": True, "map_path": str(tmp_path / "map.yml")}
    res = ansible_run.playbook(play, extra_vars=extra, check=True)
    assert res.rc == 0, res.output
    r = res.one("Mirror the images")["result"]
    assert {i["status"] for i in r["images"]} == {"would_copy"}
    assert "ansible_job_id" not in r and "image_mirror: " not in res.stdout


def test_a_task_timeout_stops_the_module_on_its_host(tmp_path, plain_registry, sample_layout, registry_factory,
                                                     ansible_run):
    seeded = sample_layout.seed(plain_registry, prefix="progress-timeout/")
    dest = registry_factory()
    play = tmp_path / "play.yml"
    play.write_text(PLAY.replace("      airgap.mirror.image_mirror:",
                                 "      timeout: 6\n      airgap.mirror.image_mirror:"))
    progress_file = tmp_path / "progress.jsonl"
    with FaultProxy(plain_registry).start() as proxy:
        proxy.add_rule("GET", r"/blobs/sha256:", throttle=256, times=None)  # far longer than the timeout
        images = sorted(ref.replace(plain_registry.host, proxy.host) for ref in seeded.values())
        res = ansible_run.playbook(play, extra_vars={
            "images": images, "insecure": [proxy.host, dest.host], "dest": dest.host + "/m", "progress": True,
            "map_path": str(tmp_path / "map.yml"), "progress_file": str(progress_file)})
        assert res.rc != 0, res.output
        pid = json.loads(progress_file.read_text().splitlines()[0])["pid"]
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), res.output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_module_that_cannot_run_fails_the_same_with_and_without_progress(
        tmp_path, plain_registry, sample_layout, registry_factory, ansible_run):
    """The background run's output, error and exit status are decoded as ansible-core decodes a
    module's: an interpreter that is not there gives the same failure, and nothing is left in
    the async directory."""
    seeded = sample_layout.seed(plain_registry, prefix="progress-broken/")
    dest = registry_factory()
    play = tmp_path / "play.yml"
    play.write_text(PLAY.replace("  gather_facts: false\n",
                                 "  gather_facts: false\n  vars:\n    ansible_python_interpreter: /nowhere/python3\n"))
    async_dir = tmp_path / "async"
    failures = {}
    for progress in (True, False):
        res = ansible_run.playbook(play, extra_vars={
            "images": sorted(seeded.values()), "insecure": [plain_registry.host, dest.host],
            "dest": dest.host + "/m", "progress": progress, "map_path": str(tmp_path / "map.yml")},
            env={"ANSIBLE_ASYNC_DIR": str(async_dir)})
        assert res.rc != 0, res.output
        failures[progress] = res.one("Mirror the images")["result"]
    assert "/nowhere/python3" in failures[True]["msg"] and "not found" in failures[True]["msg"], failures[True]
    assert failures[True]["msg"] == failures[False]["msg"]
    assert failures[True].get("rc") == failures[False].get("rc") == 127, failures
    assert async_dir.is_dir() and not list(async_dir.iterdir())  # made by the background start, then emptied
