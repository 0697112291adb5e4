"""Platforms and the platforms filter of an index (plugins/module_utils/_oci/platforms.py)."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci import platforms as P
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import ManifestError

CONFIG = "application/vnd.oci.image.config.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Store(dict):
    """Manifests and configs by digest; counts fetches."""

    fetches = 0

    def put(self, body: dict) -> bytes:
        data = json.dumps(body).encode()
        self[digest(data)] = data
        return data

    def image(self, platform: str | None, in_config: bool = True, desc_platform: bool = True,
              annotations: dict | None = None) -> dict:
        parts = (platform or "unknown/unknown").split("/")
        config = {"os": parts[0], "architecture": parts[1]}
        if len(parts) == 3:
            config["variant"] = parts[2]
        cdata = self.put(config if in_config else {"rootfs": {}})
        body = {"schemaVersion": 2, "mediaType": M.OCI_MANIFEST,
                "config": {"mediaType": CONFIG, "digest": digest(cdata), "size": len(cdata)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(cdata + b"l"),
                            "size": 1}]}
        data = self.put(body)
        desc = {"mediaType": M.OCI_MANIFEST, "digest": digest(data), "size": len(data)}
        if desc_platform and platform:
            desc["platform"] = dict(config)
        if annotations:
            desc["annotations"] = annotations
        return desc

    def index(self, children: list[dict], **extra) -> M.Manifest:
        data = self.put(dict({"schemaVersion": 2, "mediaType": M.OCI_INDEX, "manifests": children}, **extra))
        return M.parse(data)

    def fetch(self, desc: M.Descriptor, where: str):
        self.fetches += 1
        return self[desc.digest], None

    def config_platform(self, man: M.Manifest):
        return P.config_platform_of(man, lambda d: self[d.digest])

    def select(self, root: M.Manifest, *wanted: str) -> P.Selection:
        return P.select(root, P.parse_filter(wanted), self.fetch, self.config_platform, "manifest of x",
                        image="quay.io/org/x:1")


def four(store: Store) -> list[dict]:
    return [store.image(p) for p in ("linux/amd64", "linux/arm64/v8", "linux/ppc64le", "linux/s390x")]


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/arm64/v8/x", "Linux/AMD64", "", 3, None,
                                  "linux amd64"])
def test_a_bad_platform_is_refused_naming_it(text):
    with pytest.raises(ValueError) as exc:
        P.parse_filter(["linux/amd64", text])
    assert repr(text) in str(exc.value) and "os/arch[/variant]" in str(exc.value)


def test_the_filter_must_be_a_list():
    with pytest.raises(ValueError, match="must be a list"):
        P.parse_filter("linux/amd64")
    assert P.parse_filter(None) == () and P.parse_filter([]) == ()
    assert P.parse_filter(["linux/amd64", "linux/x86_64"]) == (P.Platform("linux", "amd64"),)


@pytest.mark.parametrize("wanted, platform, match", [
    ("linux/amd64", {"os": "linux", "architecture": "amd64"}, True),
    ("linux/amd64", {"os": "windows", "architecture": "amd64"}, False),
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"}, True),
    ("linux/arm64/v8", {"os": "linux", "architecture": "arm64"}, True),   # arm64 is v8 by default
    ("linux/arm64/v8", {"os": "linux", "architecture": "arm64", "variant": "v9"}, False),
    ("linux/arm/v7", {"os": "linux", "architecture": "arm"}, True),
    ("linux/arm/v6", {"os": "linux", "architecture": "arm"}, False),
    ("linux/arm", {"os": "linux", "architecture": "arm", "variant": "v6"}, True),
    ("linux/amd64", {"os": "linux", "architecture": "x86_64"}, True),
    ("linux/aarch64", {"os": "linux", "architecture": "arm64"}, True),
])
def test_matching(wanted, platform, match):
    assert P.Platform.parse(wanted).matches(P.Platform.from_dict(platform)) is match


def test_an_index_keeps_exactly_the_wanted_manifests_in_order_with_their_descriptors():
    store = Store()
    children = four(store)
    root = store.index(children, annotations={"org.opencontainers.image.title": "x"})
    sel = store.select(root, "linux/s390x", "linux/amd64")
    assert sel.filtered and sel.root.digest != root.digest
    assert sel.root.body["manifests"] == [children[0], children[3]]  # the source's order, raw descriptors
    assert sel.root.body["annotations"] == {"org.opencontainers.image.title": "x"}
    assert sel.root.media_type == M.OCI_INDEX and sel.root.digest == digest(sel.root.data)
    assert sel.kept == ["linux/amd64", "linux/s390x"]
    assert sel.available == ["linux/amd64", "linux/arm64/v8", "linux/ppc64le", "linux/s390x"]
    assert set(sel.dropped) == {children[1]["digest"], children[2]["digest"]}
    assert store.fetches == 0  # descriptors with platforms need no fetch
    # deterministic: the same source and filter give the same digest
    assert store.select(root, "linux/amd64", "linux/s390x").root.data == sel.root.data


def test_a_docker_list_stays_a_docker_list():
    store = Store()
    children = four(store)
    data = store.put({"schemaVersion": 2, "mediaType": M.DOCKER_LIST, "manifests": children})
    sel = store.select(M.parse(data), "linux/arm64")
    assert sel.root.media_type == M.DOCKER_LIST and sel.root.body["mediaType"] == M.DOCKER_LIST
    assert sel.root.body["manifests"] == [children[1]]


def test_a_filter_that_keeps_everything_keeps_the_source_bytes():
    store = Store()
    root = store.index(four(store))
    sel = store.select(root, "linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x")
    assert not sel.filtered and sel.root is root


def test_no_matching_platform_names_the_image_and_its_platforms():
    store = Store()
    with pytest.raises(P.NoMatchingPlatform) as exc:
        store.select(store.index(four(store)), "linux/riscv64", "windows/amd64")
    text = str(exc.value)
    assert "quay.io/org/x:1" in text and "linux/riscv64, windows/amd64" in text
    assert "linux/amd64, linux/arm64/v8, linux/ppc64le, linux/s390x" in text
    assert isinstance(exc.value, ManifestError)


def test_a_single_platform_image_is_kept_when_its_config_matches_and_refused_when_not():
    store = Store()
    desc = store.image("linux/arm64/v8")
    root = M.parse(store[desc["digest"]])
    sel = store.select(root, "linux/arm64")
    assert sel.root is root and sel.kept == ["linux/arm64/v8"] and not sel.filtered
    with pytest.raises(P.NoMatchingPlatform, match=r"quay.io/org/x:1 is a single-platform image for "
                                                   r"linux/arm64/v8.*\(linux/amd64\)"):
        store.select(root, "linux/amd64")


def test_an_artifact_without_a_platform_is_kept():
    store = Store()
    data = store.put({"schemaVersion": 2, "mediaType": M.OCI_MANIFEST,
                      "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                                 "digest": digest(b"{}"), "size": 2}, "layers": []})
    root = M.parse(data)
    sel = store.select(root, "linux/amd64")
    assert sel.root is root and sel.kept == []


def test_attestations_follow_the_manifest_they_describe():
    store = Store()
    amd, arm = store.image("linux/amd64"), store.image("linux/arm64")
    att = [store.image(None, annotations={P.REFERENCE_TYPE: P.ATTESTATION, P.REFERENCE_DIGEST: d["digest"]})
           for d in (amd, arm)]
    for a in att:
        a["platform"] = {"os": "unknown", "architecture": "unknown"}
    root = store.index([amd, arm] + att)
    sel = store.select(root, "linux/arm64")
    assert sel.root.body["manifests"] == [arm, att[1]]
    assert sel.dropped == {amd["digest"]: "linux/amd64", att[0]["digest"]: "attestation"}
    assert "unknown" not in " ".join(sel.available)
    # attestations alone are not an image
    with pytest.raises(P.NoMatchingPlatform):
        store.select(root, "linux/s390x")


def test_a_child_without_a_platform_is_judged_by_its_config():
    store = Store()
    amd = store.image("linux/amd64", desc_platform=False)
    arm = store.image("linux/arm64", desc_platform=False)
    sel = store.select(store.index([amd, arm]), "linux/arm64")
    assert sel.root.body["manifests"] == [arm] and sel.kept == ["linux/arm64"]
    assert store.fetches == 2


def test_nested_indexes_are_filtered_at_their_leaves():
    store = Store()
    inner_children = [store.image("linux/amd64"), store.image("linux/arm64")]
    inner = store.index(inner_children)
    inner_desc = {"mediaType": M.OCI_INDEX, "digest": inner.digest, "size": inner.size,
                  "annotations": {"a": "b"}}
    s390x = store.image("linux/s390x")
    root = store.index([inner_desc, s390x])
    sel = store.select(root, "linux/arm64")
    (new_inner_desc,) = sel.root.body["manifests"]
    new_inner = sel.rewritten[new_inner_desc["digest"]]
    assert new_inner.body["manifests"] == [inner_children[1]]
    assert new_inner_desc == dict(inner_desc, digest=new_inner.digest, size=new_inner.size)
    assert sel.kept == ["linux/arm64"]
    # an inner index that keeps everything stays as it is
    sel = store.select(root, "linux/amd64", "linux/arm64")
    assert sel.root.body["manifests"] == [inner_desc] and not sel.rewritten
