"""Fault matrix case 8: a slow source (1 MiB/s through the fault proxy) and the module's
``deadline``: the run stops at the deadline -- also in the middle of a blob -- with a clear error
naming the images not done, every image that was finished is complete, nothing is half-written,
and the next run (no deadline) finishes the rest, continuing the partial blob.
"""

from __future__ import annotations

import json
import time

import pytest

from .harness import (MIRROR_PLAYBOOK, MiB, audit_layout, audit_registry, seed, tags_of, verify_layout_image,
                      verify_registry_image)

pytestmark = pytest.mark.integration

DEADLINE = 3.0


@pytest.mark.parametrize("dest_kind", ["layout", "registry"])
def test_slow_source_with_a_deadline(registry_factory, proxy_factory, fault_images, ansible_run, tmp_path, recovery,
                                     dest_kind):
    src = registry_factory()
    dst = registry_factory()
    seed(fault_images["big"], src, "app/big", "1")
    for n in (1, 2):
        seed(fault_images[f"app{n}"], src, f"app/app{n}", "1")
    psrc = proxy_factory(src)
    psrc.add_rule("GET", r"/blobs/sha256:", throttle=MiB, times=None)
    refs = [f"{psrc.host}/app/app1:1", f"{psrc.host}/app/app2:1", f"{psrc.host}/app/big:1"]
    layout = tmp_path / "images"
    dest = f"oci:{layout}" if dest_kind == "layout" else dst.host
    args = {"images": refs, "dest": dest, "insecure_registries": [psrc.host, dst.host], "concurrency": 2,
            "deadline": DEADLINE, "mirror_map": str(tmp_path / "mirror-map.yml")}

    started = time.monotonic()
    res = ansible_run.playbook(MIRROR_PLAYBOOK, extra_vars={"mirror_args": args})
    assert res.rc != 0, res.output
    record = res.one("Mirror the images")["result"]
    msg = record["msg"]
    big = f"{psrc.host}/app/big:1"
    failed = {f["source"]: f["error"] for f in record["failed_images"]}
    # the 8 MiB image cannot make it at 1 MiB/s in 3 s; the message names it and says why
    assert big in failed and "deadline" in failed[big]
    assert big in msg and "deadline" in msg
    for source, error in failed.items():
        assert source in msg and "deadline" in error, (source, error)
    # the run stopped at the deadline, not when the slow blob was done (8 s at this rate)
    assert record["totals"]["seconds"] < DEADLINE + 2.0, record["totals"]
    done = [i["source"] for i in record["images"] if i["status"] == "copied"]
    assert done, "at 1 MiB/s the 1 MiB images are done well within the deadline"
    names = {f"{psrc.host}/app/app1:1": "app1", f"{psrc.host}/app/app2:1": "app2", big: "big"}
    mirror_map = json.loads(json.dumps(record["mirror_map"]))
    assert sorted(e["source"] for e in mirror_map) == sorted(done)  # the map lists only what is complete
    if dest_kind == "layout":
        assert audit_layout(layout) == []
        recorded = {m["annotations"]["org.opencontainers.image.ref.name"]
                    for m in json.loads((layout / "index.json").read_text())["manifests"]}
        assert recorded == set(done)
        for source in done:
            verify_layout_image(layout, source, fault_images[names[source]].digest, tmp_path)
    else:
        assert tags_of(dst, "app/big") == []
        assert audit_registry(dst) == []
        for source in done:
            verify_registry_image(dst, source.split("/", 1)[1], fault_images[names[source]].digest, tmp_path)

    # later, on a better link and without a deadline, the same task finishes the job
    psrc.clear_rules()
    args.pop("deadline")
    mark = psrc.mark()
    res = ansible_run.playbook(MIRROR_PLAYBOOK, extra_vars={"mirror_args": args})
    assert res.rc == 0, res.output
    record = res.one("Mirror the images")["result"]
    fetched = psrc.exchanges("GET", r"/blobs/sha256:", since=mark)
    layer = fault_images["big"].layers[0]
    if dest_kind == "layout":
        big_gets = [e for e in fetched if layer.digest in e.path]
        assert len(big_gets) == 1 and big_gets[0].range and big_gets[0].status == 206, \
            [(e.range, e.status) for e in big_gets]  # the partial blob continued
        for source, name in names.items():
            verify_layout_image(layout, source, fault_images[name].digest, tmp_path)
        assert audit_layout(layout) == [] and not (layout / ".airgap-state").exists()
    else:
        for source, name in names.items():
            verify_registry_image(dst, source.split("/", 1)[1], fault_images[name].digest, tmp_path)
        assert audit_registry(dst) == []
    complete = {fault_images[names[source]].layers[0].digest for source in done}
    assert not [e.path for e in fetched if any(d in e.path for d in complete)], "a completed blob was re-fetched"
    recovery(f"8 slow source (1 MiB/s) + deadline {DEADLINE:.0f}s -> {dest_kind}",
             f"error names the {len(failed)} image(s) not done; re-run completes",
             record["totals"]["seconds"])
    assert time.monotonic() - started < 120
