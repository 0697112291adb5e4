import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import signature_host as H
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import signature_policy as S

KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGxxx\n-----END PGP PUBLIC KEY BLOCK-----\n"
SITE = {
    "default": [{"type": "insecureAcceptAnything"}],
    "transports": {
        "docker": {"registry.site.example/own": [{"type": "reject"}],
                   "quay.io/vendor": [{"type": "insecureAcceptAnything"}]},
        "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
    },
}
PAIRS = [{"source": "quay.io/vendor/app", "mirror": "mirror.test:8443/mirror/vendor/app"},
         {"source": "registry.redhat.io", "mirror": "mirror.test:8443/rh"}]


def gpg(scope="quay.io/vendor", **kw):
    return dict(dict(scope=scope, kind="gpg", keys=[{"name": "vendor.gpg", "content": KEY}],
                     signed_identity=None, lookaside=None), **kw)


# -- the pure part ----------------------------------------------------------------------------------
def test_mirror_scopes_follow_the_mapping():
    assert S.mirror_scopes("quay.io/vendor", PAIRS) == [
        ("mirror.test:8443/mirror/vendor/app", "quay.io/vendor/app")]
    assert S.mirror_scopes("registry.redhat.io/ubi9", PAIRS) == [
        ("mirror.test:8443/rh/ubi9", "registry.redhat.io/ubi9")]
    assert S.mirror_scopes("docker.io", PAIRS) == []
    assert S.mirror_scopes("*.redhat.io", PAIRS) == []


def test_desired_source_and_mirror_scopes():
    sigs = S.parse_signatures([gpg()], "file:///srv/sigstore")
    want = S.desired(sigs, PAIRS, "/etc/containers/keys")
    req = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/etc/containers/keys/vendor.gpg"}
    assert want.scopes == {
        "quay.io/vendor": [req],
        "mirror.test:8443/mirror/vendor/app": [dict(req, signedIdentity={
            "type": "remapIdentity", "prefix": "mirror.test:8443/mirror/vendor/app",
            "signedPrefix": "quay.io/vendor/app"})],
    }
    assert want.locations == {s: {"lookaside": "file:///srv/sigstore"} for s in want.scopes}
    assert want.keys == {"/etc/containers/keys/vendor.gpg": KEY}
    text = S.registries_d_text(want.locations)
    import yaml
    assert yaml.safe_load(text) == {"docker": want.locations}
    assert text.startswith(S.HEADER)


def test_sigstore_defaults_to_match_repository_and_attachments():
    sig = dict(scope="registry.redhat.io", kind="sigstore", keys=[{"name": "rh.pub", "content": "PEM"},
                                                                  {"name": "rh2.pub", "content": "PEM2"}])
    want = S.desired(S.parse_signatures([sig], None), PAIRS, "/k")
    assert want.scopes["registry.redhat.io"] == [{"type": "sigstoreSigned", "keyPaths": ["/k/rh.pub", "/k/rh2.pub"],
                                                  "signedIdentity": {"type": "matchRepository"}}]
    assert want.locations["mirror.test:8443/rh"] == {"use-sigstore-attachments": True}
    assert want.scopes["mirror.test:8443/rh"][0]["signedIdentity"]["type"] == "remapIdentity"


@pytest.mark.parametrize("item, lookaside, words", [
    (gpg(), None, "lookaside URL"),
    (gpg(scope="https://quay.io"), "file:///x", "without a scheme"),
    (gpg(keys=[]), "file:///x", "at least one public key"),
    (gpg(keys=[{"name": "../x", "content": KEY}]), "file:///x", "must be a file name"),
    (gpg(signed_identity={"type": "nope"}), "file:///x", "signed_identity"),
    (gpg(lookaside="ftp://x"), None, "must be a file://"),
    (dict(gpg(), kind="cosign"), "file:///x", "kind must be"),
])
def test_bad_requests(item, lookaside, words):
    with pytest.raises(S.SignaturePolicyError, match=words):
        S.parse_signatures([item], lookaside)


def test_merge_never_clobbers_and_restores():
    want = S.desired(S.parse_signatures([gpg()], "file:///s"), PAIRS, "/k")
    merged = S.merge(SITE, want.scopes, "leave", None)
    docker = merged.doc["transports"]["docker"]
    assert docker["registry.site.example/own"] == [{"type": "reject"}]
    assert merged.doc["transports"]["docker-daemon"] == SITE["transports"]["docker-daemon"]
    assert merged.doc["default"] == SITE["default"]
    assert merged.previous == {"quay.io/vendor": [{"type": "insecureAcceptAnything"}],
                               "mirror.test:8443/mirror/vendor/app": None}
    record = {"previous": merged.previous, "written": want.scopes}
    # idempotent: the same request on the merged document changes nothing and keeps the first previous
    again = S.merge(merged.doc, want.scopes, "leave", record)
    assert again.doc == merged.doc and again.previous == merged.previous
    back, warnings = S.unmerge(merged.doc, record)
    assert back == SITE and warnings == []


def test_merge_default_and_a_scope_dropped_later():
    want = S.desired(S.parse_signatures([gpg()], "file:///s"), PAIRS, "/k")
    merged = S.merge(SITE, want.scopes, "reject", None)
    assert merged.doc["default"] == [{"type": "reject"}] and merged.default_previous == SITE["default"]
    record = {"previous": merged.previous, "written": want.scopes, "default_previous": merged.default_previous,
              "default_written": [{"type": "reject"}]}
    later = S.merge(merged.doc, {}, "leave", record)
    assert later.doc == SITE and later.previous == {}


def test_a_scope_changed_by_the_site_is_left_with_a_warning():
    want = S.desired(S.parse_signatures([gpg()], "file:///s"), [], "/k")
    merged = S.merge(SITE, want.scopes, "leave", None)
    merged.doc["transports"]["docker"]["quay.io/vendor"] = [{"type": "reject"}]
    back, warnings = S.unmerge(merged.doc, {"previous": merged.previous, "written": want.scopes})
    assert back["transports"]["docker"]["quay.io/vendor"] == [{"type": "reject"}]
    assert "changed by someone else" in warnings[0]


def test_policy_that_is_not_a_policy():
    with pytest.raises(S.SignaturePolicyError, match="not valid JSON"):
        S.parse_policy(b"{", "/p")
    with pytest.raises(S.SignaturePolicyError, match="not a containers-policy"):
        S.parse_policy(b'{"transports": []}', "/p")


# -- the files ----------------------------------------------------------------------------------------
def params(tmp_path, **kw):
    base = dict(policy=str(tmp_path / "etc/policy.json"), registries_d=str(tmp_path / "etc/registries.d/am.yaml"),
                keys_dir=str(tmp_path / "etc/keys"), record=str(tmp_path / "state/rec.json"),
                signatures=[gpg()], pairs=PAIRS, lookaside="file:///srv/sigstore", default="leave",
                state="present")
    return dict(base, **kw)


def snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        out[dirpath] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            out[path] = (open(path, "rb").read(), oct(os.stat(path).st_mode & 0o777))
    return out


@pytest.fixture
def host(tmp_path):
    (tmp_path / "etc/registries.d").mkdir(parents=True)
    (tmp_path / "etc/registries.d/default.yaml").write_text("docker:\n  example.com:\n    lookaside: file:///x\n")
    (tmp_path / "etc/policy.json").write_text(json.dumps(SITE, indent=2))
    return tmp_path


def test_present_idempotent_absent(host):
    before = snapshot(host)
    warnings = []
    check = H.run(params(host), True, warnings.append)
    assert check["changed"] and snapshot(host) == before
    res = H.run(params(host), False, warnings.append)
    assert res["changed"]
    assert res["created"] == [str(host / "etc/keys/vendor.gpg"), str(host / "etc/registries.d/am.yaml")]
    assert [d["before_header"] for d in res["diff"]][0] == str(host / "state/rec.json")
    doc = json.loads((host / "etc/policy.json").read_text())
    assert doc["transports"]["docker"]["registry.site.example/own"] == [{"type": "reject"}]
    assert doc["transports"]["docker"]["quay.io/vendor"][0]["type"] == "signedBy"
    assert oct(os.stat(host / "etc/keys/vendor.gpg").st_mode & 0o777) == "0o644"
    assert oct(os.stat(host / "state/rec.json").st_mode & 0o777) == "0o600"
    after = snapshot(host)
    again = H.run(params(host), False, warnings.append)
    assert not again["changed"] and again["diff"] == [] and snapshot(host) == after
    assert not H.run(params(host), True, warnings.append)["changed"]
    gone_check = H.run(params(host, state="absent"), True, warnings.append)
    assert gone_check["changed"] and snapshot(host) == after
    assert str(host / "etc/keys") in gone_check["removed"] and str(host / "state") in gone_check["removed"]
    gone = H.run(params(host, state="absent"), False, warnings.append)
    assert gone["changed"]
    assert snapshot(host) == before  # the policy's own bytes too
    assert not H.run(params(host, state="absent"), False, warnings.append)["changed"]
    assert warnings == []


def test_missing_policy_needs_a_default(tmp_path):
    with pytest.raises(S.SignaturePolicyError, match="does not exist"):
        H.run(params(tmp_path), False, print)
    H.run(params(tmp_path, default="reject"), False, print)
    assert json.loads((tmp_path / "etc/policy.json").read_text())["default"] == [{"type": "reject"}]
    H.run(params(tmp_path, state="absent"), False, print)
    assert not (tmp_path / "etc").exists() and not (tmp_path / "state").exists()


def test_a_scope_another_registries_d_file_names_is_refused(host):
    (host / "etc/registries.d/vendor.yaml").write_text('docker:\n  "quay.io/vendor":\n    lookaside: file:///y\n')
    with pytest.raises(S.SignaturePolicyError, match="vendor.yaml already names quay.io/vendor"):
        H.run(params(host), False, print)
    assert not (host / "state").exists()


def test_foreign_registries_d_file_is_not_overwritten(host):
    (host / "etc/registries.d/am.yaml").write_text("docker: {}\n")
    with pytest.raises(S.SignaturePolicyError, match="not written by"):
        H.run(params(host), False, print)
    assert not (host / "state").exists() and not (host / "etc/keys").exists()


def test_changed_request_restores_dropped_scopes_and_files(host):
    H.run(params(host), False, print)
    other = dict(scope="docker.io/library", kind="gpg", keys=[{"name": "lib.gpg", "content": KEY}])
    res = H.run(params(host, signatures=[other]), False, print)
    doc = json.loads((host / "etc/policy.json").read_text())
    assert doc["transports"]["docker"]["quay.io/vendor"] == [{"type": "insecureAcceptAnything"}]
    assert "mirror.test:8443/mirror/vendor/app" not in doc["transports"]["docker"]
    assert str(host / "etc/keys/vendor.gpg") in res["removed"] and not (host / "etc/keys/vendor.gpg").exists()
    H.run(params(host, state="absent"), False, print)
    assert json.loads((host / "etc/policy.json").read_text()) == SITE


def test_present_without_signatures_gives_everything_back(host):
    before = snapshot(host)
    assert not H.run(params(host, signatures=[]), False, print)["changed"]
    H.run(params(host), False, print)
    assert H.run(params(host, signatures=[]), False, print)["changed"]
    assert snapshot(host) == before


REGISTRIES_D = """# a site's file
default-docker:
  lookaside: file:///x
docker:
  quay.io/vendor:
    lookaside: https://example.com/sig  # a comment
  "registry.redhat.io":
    use-sigstore-attachments: true
  'mirror.test:5000/x':
    lookaside: file:///y
"""


def test_docker_scopes_with_and_without_pyyaml(monkeypatch):
    want = {"quay.io/vendor", "registry.redhat.io", "mirror.test:5000/x"}
    assert H.docker_scopes(REGISTRIES_D) == want
    import builtins
    real_import = builtins.__import__

    def no_yaml(name, *args, **kwargs):
        if name == "yaml":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    assert H.docker_scopes(REGISTRIES_D) == want
    assert H.docker_scopes("default-docker:\n  lookaside: file:///x\n") == set()
