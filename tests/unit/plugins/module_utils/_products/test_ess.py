import os

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._products import ess as E
from support import mirror_maps

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "products")
MIRROR = "mirror.example.com:8443"
ELEMENTWEB = "sha256:1e7e1503ff73ae01af72dd27d9be387667dbbbcc53870ca02b3b02a1890696a9"
HAPROXY = "sha256:75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6"
PIPE = "sha256:fdef296a8cc72a6deba2f879ddc8cc94da8a49027c5da6627ababd100efa9e57"
OTHER = "sha256:" + "ab" * 32


def installer(name="ess-images_digests.yml"):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def mirror_map(sources, dest=MIRROR, mode="keep", digests=None):
    """A mirror map as image_mirror writes it: destinations from the real mapping code."""
    return mirror_maps.mirror_map(sources, dest=dest, mode=mode, digests=digests, platforms=["linux/amd64"],
                                  size=1000)


ALL = [
    "gitlab-registry.matrix.org/ems-image-store/enterprise/access-token-elementweb:v1.11.45@" + ELEMENTWEB,
    "docker.io/library/haproxy:2.8-alpine@" + HAPROXY,
    "gitlab-registry.matrix.org/ems-image-store/enterprise/pipe:2.7.0@" + PIPE,
]


def test_override_in_the_seed_shape_with_preserved_digests():
    report = E.override_configmap(installer(), mirror_map(ALL), "ess-images-digests", "element-onprem")
    cm = report["configmap"]
    assert cm["apiVersion"] == "v1" and cm["kind"] == "ConfigMap"
    assert cm["metadata"] == {"name": "ess-images-digests", "namespace": "element-onprem"}
    assert list(cm["data"]) == ["images_digests"] and isinstance(cm["data"]["images_digests"], str)
    tree = yaml.safe_load(cm["data"]["images_digests"])
    assert tree["adminbot"]["haproxy"] == {
        "image_digest": HAPROXY,
        "image_repository_path": "library/haproxy",
        "image_repository_server": MIRROR,
        "image_tag": "2.8-alpine",
    }
    assert tree["auditbot"]["pipe"]["image_repository_path"] == "ems-image-store/enterprise/pipe"
    assert sorted(report["overridden"]) == sorted(
        "%s/%s" % (c, k) for c in ("adminbot", "auditbot") for k in ("access_element_web", "haproxy", "pipe"))
    assert report["missing"] == [] and report["digest_changed"] == []
    assert report["matches"]["adminbot/pipe"]["matched_by"] == "digest"
    # the string is block YAML, as in the seed's `images_digests: |`
    assert cm["data"]["images_digests"].startswith("adminbot:\n  access_element_web:\n    image_digest: ")


def test_mapping_mode_and_namespace_give_server_and_path():
    report = E.build_override(installer(), mirror_map(ALL, dest=MIRROR + "/ess", mode="flatten"))
    haproxy = report["tree"]["adminbot"]["haproxy"]
    assert haproxy["image_repository_server"] == MIRROR
    assert haproxy["image_repository_path"] == "ess/haproxy"
    scoped = E.build_override(installer(), mirror_map(ALL, dest=MIRROR, mode="scoped"))
    assert scoped["tree"]["adminbot"]["pipe"]["image_repository_path"] == \
        "gitlab-registry.matrix.org/ems-image-store/enterprise/pipe"


def test_match_by_tag_when_the_mirror_was_made_from_tags():
    tags = [s.split("@", maxsplit=1)[0] for s in ALL]
    same = dict(zip(tags, (ELEMENTWEB, HAPROXY, PIPE)))
    report = E.build_override(installer(), mirror_map(tags, digests=same))
    assert report["matches"]["adminbot/haproxy"]["matched_by"] == "digest"  # resolved digest equal
    assert report["tree"]["adminbot"]["haproxy"]["image_digest"] == HAPROXY


def test_moved_tag_is_an_error_by_default_and_options_to_handle_it():
    tags = [s.split("@", maxsplit=1)[0] for s in ALL]
    moved = {tags[1]: OTHER, tags[0]: ELEMENTWEB, tags[2]: PIPE}
    with pytest.raises(E.ESSError) as info:
        E.build_override(installer(), mirror_map(tags, digests=moved))
    assert "adminbot/haproxy" in str(info.value) and OTHER in str(info.value) and HAPROXY in str(info.value)
    mirror = E.build_override(installer(), mirror_map(tags, digests=moved), image_digest="mirror")
    assert mirror["tree"]["adminbot"]["haproxy"]["image_digest"] == OTHER
    assert mirror["digest_changed"] == ["adminbot/haproxy", "auditbot/haproxy"]
    assert mirror["matches"]["adminbot/haproxy"]["matched_by"] == "tag"
    assert any("adminbot/haproxy" in w for w in mirror["warnings"])
    dropped = E.build_override(installer(), mirror_map(tags, digests=moved), image_digest="drop")
    assert all("image_digest" not in c for comp in dropped["tree"].values() for c in comp.values())


def test_missing_containers_are_named_and_fail_by_default():
    with pytest.raises(E.ESSError) as info:
        E.build_override(installer("ess-images_digests-next.yml"), mirror_map(ALL))
    message = str(info.value)
    assert "element_web/element_web" in message and "element_call/sfu" in message
    assert "adminbot/haproxy" not in message
    report = E.build_override(installer("ess-images_digests-next.yml"), mirror_map(ALL), on_missing="warn")
    assert report["missing"] == ["element_web/element_web", "element_call/sfu"]
    assert sorted(report["tree"]) == ["adminbot"]  # only what is in the mirror is overridden
    assert "element_call/sfu" in report["warnings"][0]


def test_include_and_exclude_limit_what_is_considered():
    text = installer("ess-images_digests-next.yml")
    report = E.build_override(text, mirror_map(ALL), include=["adminbot"])
    assert report["missing"] == [] and sorted(report["tree"]["adminbot"]) == ["access_element_web", "haproxy"]
    report = E.build_override(text, mirror_map(ALL), exclude=["element_*"])
    assert report["missing"] == [] and list(report["tree"]) == ["adminbot"]
    report = E.build_override(text, mirror_map(ALL), exclude=["element_call/sfu"], on_missing="warn")
    assert report["missing"] == ["element_web/element_web"]


def test_installer_file_errors_name_the_container():
    bad = {"images_digests": {"synapse": {"synapse": {"image_repository_path": "x/y", "image_tag": "1"}}}}
    with pytest.raises(E.ESSError, match="synapse/synapse: missing image_repository_server"):
        E.build_override(bad, mirror_map(ALL))
    bad = {"images_digests": {"synapse": {"synapse": {"image_repository_server": "docker.io",
                                                      "image_repository_path": "Bad/Name", "image_tag": "1"}}}}
    with pytest.raises(E.ESSError, match="synapse/synapse: invalid image reference"):
        E.build_override(bad, mirror_map(ALL))
    with pytest.raises(E.ESSError, match="not valid YAML"):
        E.build_override("images_digests: [", mirror_map(ALL))


def test_layout_destination_is_refused():
    entry = mirror_maps.entry(ALL[1], HAPROXY, "oci:/srv/layout:haproxy")
    with pytest.raises(E.ESSError, match="OCI layout"):
        E.build_override(installer(), mirror_maps.dumps([entry]), include=["adminbot/haproxy"])


def test_mirror_map_given_as_loaded_data_or_entry_list():
    text = mirror_map(ALL)
    doc = yaml.safe_load(text)
    a = E.build_override(installer(), text)["tree"]
    assert E.build_override(installer(), doc)["tree"] == a
    assert E.build_override(yaml.safe_load(installer()), doc["images"])["tree"] == a


def test_configmap_names_are_checked():
    with pytest.raises(E.ESSError, match="DNS-1123 subdomain"):
        E.override_configmap(installer(), mirror_map(ALL), "Bad_Name", "element-onprem")
    with pytest.raises(E.ESSError, match="DNS-1123 label"):
        E.override_configmap(installer(), mirror_map(ALL), "ok", "bad.namespace")


def test_output_is_stable_across_runs_and_input_order():
    one = E.override_configmap(installer(), mirror_map(ALL), "cm", "ns")["configmap"]
    two = E.override_configmap(installer(), mirror_map(list(reversed(ALL))), "cm", "ns")["configmap"]
    assert one == two


KEYS = {"configmap": "spec.install.imagesDigestsConfigMap", "secret": "spec.install.dockerSecrets"}


def test_settings_edits():
    edits = E.settings_edits("ess-images", "mirror-pull", keys=KEYS)
    assert edits == [
        {"key": "spec.install.imagesDigestsConfigMap", "value": "ess-images"},
        {"key": "spec.install.dockerSecrets", "value": ["mirror-pull"]},
    ]
    custom = E.settings_edits("cm", "s", keys=dict(KEYS, secret="dockerSecret"), secret_as_list=False)
    assert custom[1] == {"key": "dockerSecret", "value": "s"}
    with pytest.raises(ValueError, match="DNS-1123"):
        E.settings_edits("Bad_Name", keys=KEYS)


def test_settings_keys_have_no_unverified_defaults():
    with pytest.raises(E.ESSError, match=r"no key given for the images digests ConfigMap name \(keys.configmap\)"):
        E.settings_edits("cm", None)
    with pytest.raises(E.ESSError, match=r"keys.secret"):
        E.settings_edits("cm", "s", keys={"configmap": "a.b"})
    with pytest.raises(E.ESSError, match="unknown key name"):
        E.settings_edits("cm", None, keys={"configmap": "a", "configMap": "b"})
    assert E.settings_edits("cm", None, keys={"configmap": "a.b"}) == [{"key": "a.b", "value": "cm"}]


def test_numeric_looking_tags_keep_their_text():
    text = ("images_digests:\n  synapse:\n    synapse:\n      image_repository_server: docker.io\n"
            "      image_repository_path: matrixdotorg/synapse\n      image_tag: 1.10\n")
    mm = mirror_map(["docker.io/matrixdotorg/synapse:1.10"], digests={"docker.io/matrixdotorg/synapse:1.10": OTHER})
    report = E.build_override(text, mm)
    assert report["tree"]["synapse"]["synapse"]["image_tag"] == "1.10"
    assert report["matches"]["synapse/synapse"]["matched_by"] == "tag"
    with pytest.raises(E.ESSError, match="read as a number"):
        E.build_override(yaml.safe_load(text), mm)


def test_settings_keep_other_pull_secrets():
    current = "spec:\n  install:\n    dockerSecrets: [corp-pull]\n"
    edits = E.settings_edits(None, "mirror-pull", current=current, keys=KEYS)
    assert edits == [{"key": "spec.install.dockerSecrets", "value": ["corp-pull", "mirror-pull"]}]
    again = E.settings_edits(None, "mirror-pull", keys=KEYS,
                             current="spec:\n  install:\n    dockerSecrets: [corp-pull, mirror-pull]\n")
    assert again[0]["value"] == ["corp-pull", "mirror-pull"]
    assert E.settings_edits(None, "mirror-pull", current="other: 1\n", keys=KEYS)[0]["value"] == ["mirror-pull"]
    with pytest.raises(E.ESSError, match="not a list"):
        E.settings_edits(None, "mirror-pull", current="spec:\n  install:\n    dockerSecrets: corp-pull\n", keys=KEYS)


def test_a_filtered_image_is_pinned_to_the_mirror_digest():
    """The mirror holds the images filtered to linux/amd64: an index of its own digest, the only one
    it serves; the installer's digest is the source's (the map's source_digest)."""
    text = mirror_maps.filtered(mirror_map(ALL))
    report = E.build_override(installer(), text)
    haproxy = report["tree"]["adminbot"]["haproxy"]
    assert haproxy["image_digest"] == mirror_maps.filtered_digest(HAPROXY)
    assert report["matches"]["adminbot/haproxy"]["matched_by"] == "digest"  # by the source digest
    assert report["digest_changed"] == [] and "adminbot/haproxy" in report["filtered"]
    assert any("filtered" in w and "adminbot/haproxy" in w for w in report["warnings"])
    # made from tags: matched by the source digest too, the same pin
    tags = [s.split("@", maxsplit=1)[0] for s in ALL]
    by_tag = mirror_maps.filtered(mirror_map(tags, digests=dict(zip(tags, (ELEMENTWEB, HAPROXY, PIPE)))))
    report = E.build_override(installer(), by_tag)
    assert report["tree"]["adminbot"]["haproxy"]["image_digest"] == mirror_maps.filtered_digest(HAPROXY)
    assert E.build_override(installer(), text, image_digest="mirror")["tree"]["adminbot"]["haproxy"][
        "image_digest"] == mirror_maps.filtered_digest(HAPROXY)
