"""The edge of transfer_bundle: request, run, error and result conversion, on real bundles."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._backends import transfer_bundle as backend
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError

from support import images as I


def params(**overrides):
    spec = backend.module_spec()["argument_spec"]
    out = {name: option.get("default") for name, option in spec.items()}
    out.update(overrides)
    return out


def test_pack_only_options_are_refused_for_other_actions():
    with pytest.raises(UserError, match="^images is only used with action=pack$"):
        backend.build_request(params(action="verify", bundle="/b", images=["x"]), False)
    # the default part_size is not "given"
    request = backend.build_request(params(action="verify", bundle="/b"), True)
    assert request.action == "verify" and request.check_mode and request.part_size == "4095M"
    with pytest.raises(ValueError, match="bundle name"):
        backend.build_request(params(action="verify", bundle="/b", name="../x"), False)


@pytest.mark.parametrize("action, mirror_map", [("pack", "/m.yml"), ("verify", None), ("unpack", None)])
def test_map_prune_needs_an_unpack_into_a_map(action, mirror_map):
    with pytest.raises(UserError, match="^map_prune is only used with action=unpack and a mirror_map$"):
        backend.build_request(params(action=action, bundle="/b", layout="/l", mirror_map=mirror_map,
                                     map_prune=True), False)
    request = backend.build_request(params(action="unpack", bundle="/b", layout="/l", mirror_map="/m.yml",
                                           map_prune=True), False)
    assert request.map_prune


def test_run_and_result_on_a_real_bundle(tmp_path):
    layout = I.OCILayout(tmp_path / "l")
    I.build_image(layout, "example.com/app:1", layers=[{"a": "1"}])
    warnings = []
    pack = backend.build_request(params(action="pack", bundle=str(tmp_path / "b"), layout=layout.path,
                                        part_size="64K"), False)
    failed, result = backend.result(pack, backend.run(pack, warnings.append), diff_mode=False)
    assert not failed and result["changed"] and result["status"] == "written" and "diff" not in result
    assert result["peak_rss_bytes"] > 0
    verify = backend.build_request(params(action="verify", bundle=str(tmp_path / "b")), False)
    failed, result = backend.result(verify, backend.run(verify, warnings.append), diff_mode=True)
    assert not failed and result["valid"] and result["changed"] is False
    (tmp_path / "b" / "images.tar.0001").write_bytes(b"damaged")
    (tmp_path / "b" / "images.tar.0099").write_bytes(b"extra")
    failed, result = backend.result(verify, backend.run(verify, warnings.append), diff_mode=False)
    assert failed and result["msg"].startswith("the bundle images in %s is not intact:\nimages.tar.0001: truncated"
                                               % (tmp_path / "b"))
    assert warnings == [result["extra"][0]["message"]]
    unpack = backend.build_request(params(action="unpack", bundle=str(tmp_path / "b"), layout=str(tmp_path / "o")),
                                   False)
    with pytest.raises(BundleError) as caught:
        backend.run(unpack, warnings.append)
    failure = backend.failure(caught.value)
    assert failure["part"] == "images.tar.0001" and failure["problems"][0]["problem"] == "truncated"
    assert failure["msg"].startswith("the bundle in %s cannot be unpacked" % (tmp_path / "b"))


def test_failure_keeps_the_traceback_only_for_bugs():
    assert backend.failure(UserError("images is only used with action=pack")) == {
        "msg": "images is only used with action=pack"}
    assert backend.failure(BundleError("bad", image="example.com/app:1", member="x")) == {
        "msg": "example.com/app:1: bad", "member": "x", "image": "example.com/app:1"}
    bug: dict = {}
    try:
        raise KeyError("oops")
    except KeyError as exc:
        bug = backend.failure(exc)
    assert bug["msg"] == "unexpected error: KeyError: 'oops'" and "Traceback" in bug["exception"]


def test_progress_counts_parts_and_bytes_of_pack_verify_and_unpack(tmp_path):
    from ansible_collections.airgap.mirror.plugins.module_utils._common.progress import Progress

    layout = I.OCILayout(tmp_path / "l")
    I.build_image(layout, "example.com/app:1", layers=[{"a": os.urandom(200_000)}, {"b": os.urandom(150_000)}])

    def run(**options):
        records = []
        request = backend.build_request(params(**options), False)
        report = backend.run(request, lambda _warning: None, Progress(records.append))
        return report, records

    report, records = run(action="pack", bundle=str(tmp_path / "b"), layout=layout.path, part_size="64K")
    parts = [r for r in records if r["event"] == "image"]
    assert [r["image"] for r in parts] == [p["name"] for p in report["parts"]] and len(parts) > 1
    assert {r["status"] for r in parts} == {"written"} and {r["phase"] for r in parts} == {"pack"}
    assert parts[-1]["images_done"] == parts[-1]["images_total"] == len(parts)
    assert parts[-1]["bytes_done"] == parts[-1]["bytes_total"] > 0

    _report, records = run(action="verify", bundle=str(tmp_path / "b"))
    checked = [r for r in records if r["event"] == "image"]
    assert [r["status"] for r in checked] == ["checked"] * len(parts)
    assert checked[-1]["bytes_done"] == checked[-1]["bytes_total"] == sum(p["size"] for p in report["parts"])

    _report, records = run(action="unpack", bundle=str(tmp_path / "b"), layout=str(tmp_path / "o"))
    read = [r for r in records if r["event"] == "image"]
    assert [r["status"] for r in read] == ["read"] * len(parts) and read[-1]["phase"] == "unpack"
    assert records[-1]["bytes_done"] == records[-1]["bytes_total"] > 0


def test_progress_interval_must_be_positive():
    with pytest.raises(UserError, match="progress_interval"):
        backend.build_request(params(action="verify", bundle="/b", progress_interval=0), False)


def test_signing_options_belong_to_their_actions_and_the_passphrase_stays_hidden():
    spec = backend.module_spec()
    options = spec["argument_spec"]
    assert options["signing_key_passphrase"]["no_log"] is True
    assert options["signing_key"]["no_log"] is False and options["verify_keys"]["no_log"] is False
    assert spec["required_by"] == {"signing_key_passphrase": "signing_key"}
    with pytest.raises(UserError, match="^signing_key is only used with action=pack"):
        backend.build_request(params(action="unpack", bundle="/b", layout="/l", signing_key="/k"), False)
    with pytest.raises(UserError, match="^verify_keys with action=pack checks the signature of the inventory given "
                       "as previous; without previous it is not used"):
        backend.build_request(params(action="pack", bundle="/b", layout="/l", verify_keys=["/k"]), False)
    assert backend.build_request(params(action="pack", bundle="/b", layout="/l", verify_keys=["/k"],
                                        previous="/inventory.json"), False).verify_keys == ["/k"]
    request = backend.build_request(params(action="pack", bundle="/b", layout="/l", signing_key="/k",
                                           signing_key_passphrase="hunter2-secret"), False)
    assert request.signing_key_passphrase == "hunter2-secret" and "hunter2-secret" not in repr(request)


def test_signed_pack_then_verify_through_the_backend(tmp_path):
    from support.gpg import make_key

    key = make_key(tmp_path / "gpg", "packer", passphrase="pass phrase")
    (tmp_path / "secret.asc").write_bytes(key.secret)
    (tmp_path / "public.asc").write_bytes(key.public)
    layout = I.OCILayout(tmp_path / "l")
    I.build_image(layout, "example.com/app:1", layers=[{"a": "1"}])
    pack = backend.build_request(params(action="pack", bundle=str(tmp_path / "b"), layout=layout.path,
                                        signing_key=str(tmp_path / "secret.asc"),
                                        signing_key_passphrase="pass phrase"), False)
    failed, result = backend.result(pack, backend.run(pack, print), diff_mode=False)
    assert not failed and result["signature"]["fingerprint"] == key.fingerprint
    assert "pass phrase" not in repr(result)
    verify = backend.build_request(params(action="verify", bundle=str(tmp_path / "b"),
                                          verify_keys=[str(tmp_path / "public.asc")]), True)
    failed, result = backend.result(verify, backend.run(verify, print), diff_mode=False)
    assert not failed and result["signature"]["verified"] and result["signature"]["fingerprint"] == key.fingerprint
    os.unlink(tmp_path / "b" / "images.bundle.json.asc")
    with pytest.raises(BundleError) as info:
        backend.run(verify, print)
    assert backend.failure(info.value) == {"msg": str(info.value), "part": "images.bundle.json.asc"}
    assert "is refused: unsigned" in str(info.value)
