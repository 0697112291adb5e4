"""airgap.mirror.image_mirror from the seed's tree of skopeo dir: exports (issue 12, D9).

The seed's download loop (003 section 2.4) writes every image of a MicroShift release to
``<IMAGE_LOCAL_DIR>/<reference without its registry>``, so a tree holds images of quay.io,
registry.redhat.io and registry.access.redhat.com without saying which is which. The upload must
record each under its real source, or registry_mirror_host leaves registries out of the drop-in.
"""

from __future__ import annotations

import pytest
import yaml

from support import images as I

pytestmark = pytest.mark.integration

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Upload the tree, images named by the release
      airgap.mirror.image_mirror:
        src: "dir:{{ tree }}"
        images: "{{ release_images }}"
        dest: "{{ dest }}"
        insecure_registries: ["{{ dest }}"]
        mirror_map: "{{ map_path }}"

    - name: The pairs the hosts get
      ansible.builtin.debug:
        msg: "{{ lookup('ansible.builtin.file', map_path) | airgap.mirror.registries_conf_pairs }}"

    - name: The module's old example, in check mode
      airgap.mirror.image_mirror:
        src: "dir:{{ tree }}"
        src_registry: quay.io
        images: [all]
        dest: "{{ dest }}"
        insecure_registries: ["{{ dest }}"]
      check_mode: true

    - name: A reference whose export holds another image
      airgap.mirror.image_mirror:
        src: "dir:{{ wrong_tree }}"
        images: ["{{ wrong }}"]
        dest: "{{ dest }}"
        insecure_registries: ["{{ dest }}"]
      register: wrong_digest
      ignore_errors: true
"""


def test_a_seed_tree_of_three_registries_keeps_each_source(tmp_path, registry_factory, ansible_run, skopeo):
    layout = I.OCILayout(tmp_path / "oci")
    release = {}
    for key, name in (("cli", "quay.io/openshift-release-dev/ocp-v4.0-art-dev"),
                      ("pod", "quay.io/openshift-release-dev/ocp-v4.0-art-dev"),
                      ("topolvm_csi", "registry.redhat.io/lvms4/topolvm-rhel9"),
                      ("openssl", "registry.access.redhat.com/ubi8/openssl")):
        image = I.build_image(layout, None, layers=[{"id.txt": f"{key} {name}\n"}])
        release[key] = (f"{name}@{image.digest}", image)
    tree = tmp_path / "microshift-containers"
    for ref, image in release.values():
        I.export_dir(image, tree / ref.split("/", 1)[1])  # the seed: dst_img=$(echo ... | cut -d/ -f2-)
    # the cli export again, under the name of an image it does not hold
    _cli_ref, cli = release["cli"]
    wrong = f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{'e' * 64}"
    wrong_tree = tmp_path / "wrong-tree"
    I.export_dir(cli, wrong_tree / wrong.split("/", 1)[1])
    dest = registry_factory()
    map_path = tmp_path / "mirror-map.yml"
    refs = sorted(ref for ref, _image in release.values())

    res = ansible_run.playbook(PLAY, extra_vars={"tree": str(tree), "release_images": refs, "dest": dest.host,
                                                 "map_path": str(map_path), "wrong": wrong,
                                                 "wrong_tree": str(wrong_tree)})
    assert res.rc == 0, res.output
    upload = res.one("Upload the tree, images named by the release")["result"]
    assert upload["totals"]["copied"] == 4 and not upload["failed_images"], upload["failed_images"]
    assert sorted(e["source"] for e in yaml.safe_load(map_path.read_text())["images"]) == refs
    for ref, image in release.values():
        repository = ref.split("/", 1)[1].split("@")[0]
        assert skopeo.digest_of(f"docker://{dest.host}/{repository}:mirror-sha256-{image.digest[7:]}",
                                registry=dest) == image.digest
    # every registry of the release is sent to the mirror, not only quay.io
    pairs = res.one("The pairs the hosts get")["result"]["msg"]
    assert sorted(p["source"] for p in pairs) == ["quay.io", "registry.access.redhat.com", "registry.redhat.io"]

    # src_registry over the same tree labels every image quay.io: not silently any more
    old = res.one("The module's old example, in check mode")
    assert {i["source"].split("/", 1)[0] for i in old["result"]["images"]} == {"quay.io"}
    (warning,) = [w for w in old["warnings"] if "src_registry" in w]
    assert "src_registry=quay.io records every dir: export of %s as quay.io/...; its top-level directories " \
           "(lvms4, openshift-release-dev, ubi8) may come from different registries" % tree in warning, warning

    # the reference's digest is checked against the export it found
    failed = res.one("A reference whose export holds another image")
    assert failed["failed"], failed
    (image,) = failed["result"]["failed_images"]
    assert image["source"] == wrong and "sha256:" + "e" * 64 in image["error"] and cli.digest in image["error"], image
