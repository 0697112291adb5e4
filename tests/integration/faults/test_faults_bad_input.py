"""Bad input: each gets a clear error naming the input, and nothing is pushed for that image
(proved from the destination registry's catalog and access log).

The bad objects live in a real registry, put there with plain HTTP requests by the test (never
through the engine): an index whose child has a media type nobody knows, an index whose child was
deleted. A registry refuses to store a manifest that is not JSON, so that one comes from an OCI
layout on disk (a transfer medium) and from a proxy answering with an HTML page (a captive portal
in front of the registry). Vendor lists without their key (a MicroShift release JSON without
``images``, an ESS ``images_digests.yml`` entry without a server) are read with the collection's
``image_list`` lookup in the same playbook.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import images

from .harness import audit_registry, seed, verify_registry_image

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "unit" / "fixtures" / "sources"

PLAYBOOK = """
- name: Bad input
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror from registries
      airgap.mirror.image_mirror:
        images: "{{ registry_images }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
      register: from_registries
      ignore_errors: true

    - name: Mirror from a layout
      airgap.mirror.image_mirror:
        src: "oci:{{ layout }}"
        images: [all]
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
      register: from_layout
      ignore_errors: true

    - name: Mirror a release without images
      airgap.mirror.image_mirror:
        images: "{{ query('airgap.mirror.image_list', release_json, format='microshift') }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
      register: from_release
      ignore_errors: true

    - name: Mirror an ESS list with an entry without a server
      airgap.mirror.image_mirror:
        images: "{{ query('airgap.mirror.image_list', ess_yaml, format='ess') }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
      register: from_ess
      ignore_errors: true
"""


def _put_manifest(registry, repository, reference, data, media_type):
    status, _h, body = registry.request("PUT", f"/v2/{repository}/manifests/{reference}", data=data,
                                        headers={"Content-Type": media_type})
    assert status == 201, (status, body)


def test_bad_input_is_named_and_nothing_is_pushed(registry_factory, proxy_factory, fault_images, ansible_run,
                                                  tmp_path, recovery):
    src = registry_factory()
    dst = registry_factory()
    psrc = proxy_factory(src)

    seed(fault_images["app1"], src, "good/app", "1")
    # an index whose only child is announced with a media type nobody knows
    child = fault_images["app2"]
    images.push_http(child, src, "bad/unknown-type")
    unknown = {"schemaVersion": 2, "mediaType": images.OCI_INDEX,
               "manifests": [{"mediaType": "application/vnd.example.mystery.v1+json", "digest": child.digest,
                              "size": child.size, "platform": {"os": "linux", "architecture": "amd64"}}]}
    _put_manifest(src, "bad/unknown-type", "1", json.dumps(unknown).encode(), images.OCI_INDEX)
    # an index whose child is gone: pushed whole, then the child deleted by digest
    multi = fault_images["multi"]
    images.push_http(multi, src, "bad/missing-child", "1")
    gone = multi.children[1]
    status, _h, body = src.request("DELETE", f"/v2/bad/missing-child/manifests/{gone.digest}")
    assert status == 202, body
    # a proxy in front of the registry answering with an HTML page instead of a manifest
    psrc.add_rule("GET", r"/v2/bad/portal/manifests/", status=200, times=None,
                  body=b"<html><body>Please log in to continue</body></html>")

    # a layout on disk: one manifest that is not JSON, one with an unknown top-level media type
    layout = images.OCILayout(tmp_path / "layout")
    not_json = layout.put_bytes(b"this is not a manifest\n", images.OCI_MANIFEST)
    layout.tag("example.com/bad/notjson:1", not_json)
    odd = layout.put_json({"schemaVersion": 2, "mediaType": "application/vnd.example.weird+json", "x": 1},
                          "application/vnd.example.weird+json")
    layout.tag("example.com/bad/weird:1", images.Descriptor(images.OCI_MANIFEST, odd.digest, odd.size))

    release = tmp_path / "release-x86_64.json"
    release.write_text(json.dumps({"release": {"base": "4.16.0"}}, indent=2) + "\n")
    ess = FIXTURES / "ess-images_digests-no-server.yml"

    invalid = ["UPPER/Case:1", f"{psrc.host}/bad/short@sha256:1234", f"{psrc.host}/bad/two:tags:here", ""]
    bad_registry = [f"{psrc.host}/bad/unknown-type:1", f"{psrc.host}/bad/missing-child:1",
                    f"{psrc.host}/bad/portal:1"]
    good = f"{psrc.host}/good/app:1"
    mark = dst.mark()
    res = ansible_run.playbook(PLAYBOOK, extra_vars={
        "registry_images": [good] + invalid + bad_registry, "dest": dst.host,
        "insecure": [psrc.host, dst.host], "layout": str(layout.path), "release_json": str(release),
        "ess_yaml": str(ess)})
    assert res.rc == 0, res.output  # every task ignores its error; the checks are below

    # -- registries: each bad image fails with its reason; the good one is mirrored
    record = res.one("Mirror from registries")
    assert record["failed"], record
    result = record["result"]
    errors = {f["source"]: f["error"] for f in result["failed_images"]}
    for ref in invalid:
        assert ref in errors, (ref, errors)
        assert "invalid image reference" in errors[ref] and repr(ref) in errors[ref], errors[ref]
    assert "unknown media type" in errors[bad_registry[0]] and "application/vnd.example.mystery.v1+json" in \
        errors[bad_registry[0]]
    missing = errors[bad_registry[1]]
    assert f"the index lists {gone.digest}, which the source does not have" in missing, missing
    assert "not JSON" in errors[bad_registry[2]], errors[bad_registry[2]]
    for ref in bad_registry:
        assert errors[ref].startswith(ref), errors[ref]  # the message names the image first
        assert errors[ref] in result["msg"].splitlines()  # one line per image, the image named once
    assert [i["source"] for i in result["images"] if i["status"] == "copied"] == [good]
    verify_registry_image(dst, "good/app:1", fault_images["app1"].digest, tmp_path)

    # -- the layout: both bad manifests named with the layout
    result = res.one("Mirror from a layout")["result"]
    errors = {f["source"]: f["error"] for f in result["failed_images"]}
    assert "not JSON" in errors["example.com/bad/notjson:1"] and str(layout.path) in errors["example.com/bad/notjson:1"]
    assert "unknown media type" in errors["example.com/bad/weird:1"]

    # -- vendor lists: the lookup names the file and the entry; the module never ran
    record = res.one("Mirror a release without images")
    assert record["failed"]
    msg = record["result"]["msg"]
    assert str(release) in msg and "images" in msg, msg
    record = res.one("Mirror an ESS list with an entry without a server")
    assert record["failed"]
    msg = record["result"]["msg"]
    assert str(ess) in msg and "adminbot" in msg and "pipe" in msg and "server" in msg, msg

    # -- nothing was pushed for any bad image: the destination holds the good repository only,
    #    and no request wrote anywhere else
    status, _h, body = dst.request("GET", "/v2/_catalog")
    assert json.loads(body)["repositories"] == ["good/app"]
    writes = [r for r in dst.since(mark) if r.method in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes and all(r.path.startswith("/v2/good/app/") for r in writes), writes
    assert audit_registry(dst) == []
    seconds = res.one("Mirror from registries")["result"]["totals"]["seconds"]
    recovery("bad input (7 bad refs/objects + 1 good, one run)",
             "each named with its cause; only the good image pushed", seconds)
