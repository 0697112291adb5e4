"""Filters of plugins/filter/mirror_host.py: the inputs of the registry_mirror_host role."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import mirror_host as F
from ansible_collections.airgap.mirror.plugins.filter import registries_conf as RC
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as MODEL
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D1 = "sha256:" + "11" * 32
D2 = "sha256:" + "22" * 32

PAIRS = [
    {"source": "quay.io", "mirror": "10.88.0.1:5000/mirror"},
    {"source": "registry.redhat.io", "mirror": "10.88.0.1:5000/mirror"},
    {"source": "docker.elastic.co/kibana/kibana", "mirror": "other.example.com/elastic/kibana"},
]


def test_mirror_registries_from_pairs_and_entries():
    assert F.mirror_registries(PAIRS) == ["10.88.0.1:5000", "other.example.com"]
    entries = [{"prefix": "docker.io", "mirrors": [{"location": "lab.local:5000/hub"}, {"location": "[::1]:5000"}]},
               {"prefix": "*.corp.example.com", "blocked": True}]
    assert F.mirror_registries([], entries) == ["[::1]:5000", "lab.local:5000"]
    assert F.mirror_registries(None) == []


@pytest.mark.parametrize("pairs, registries, message", [
    ([{"source": "quay.io"}], None, "pairs[0] must be a dict with 'source' and 'mirror'"),
    ("quay.io", None, "expected a list"),
    ([{"source": "quay.io", "mirror": "https://m.example.com"}], None, "pairs[0].mirror"),
    ([{"source": "quay.io", "mirror": "nodot/ns"}], None, "pairs[0].mirror"),
    ([], [{"prefix": "quay.io", "mirrors": [{"insecure": True}]}], "registries[0].mirrors[0].location"),
    ([], [{"prefix": "quay.io", "mirrors": "m.example.com"}], "registries[0].mirrors must be a list"),
])
def test_mirror_registries_names_the_bad_item(pairs, registries, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        F.mirror_registries(pairs, registries)


def test_rename_keeps_paths_and_order():
    out = F.rename_mirror_registries(PAIRS, {"10.88.0.1:5000": "mirror.test:5000"})
    assert out == [
        {"source": "quay.io", "mirror": "mirror.test:5000/mirror"},
        {"source": "registry.redhat.io", "mirror": "mirror.test:5000/mirror"},
        {"source": "docker.elastic.co/kibana/kibana", "mirror": "other.example.com/elastic/kibana"},
    ]
    assert PAIRS[0]["mirror"] == "10.88.0.1:5000/mirror", "the input is not modified"
    assert F.rename_mirror_registries(PAIRS, {}) == PAIRS
    assert F.rename_mirror_registries([{"source": "quay.io", "mirror": "localhost:8443"}],
                                      {"localhost:8443": "m.example.com:8443"}) == [
        {"source": "quay.io", "mirror": "m.example.com:8443"}]


@pytest.mark.parametrize("names, message", [
    ({"10.88.0.2:5000": "mirror.test:5000"}, r"10\.88\.0\.2:5000 is not a mirror registry of the pairs \(they name: "
                                             r"10\.88\.0\.1:5000, other\.example\.com\)"),
    ({"10.88.0.1:5000/mirror": "mirror.test:5000"}, "rename registries"),
    ({"10.88.0.1:5000": "mirror.test:5000/x"}, "rename registries"),
    ({"10.88.0.1:5000": "https://mirror.test"}, "new name of"),
    (["10.88.0.1:5000"], "names must be a dict"),
])
def test_rename_refuses_what_would_point_hosts_nowhere(names, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F.rename_mirror_registries(PAIRS, names)


def test_rename_after_pairs_from_a_mirror_map():
    """The role's chain: mirror map -> registries_conf_pairs -> rename -> mirror_registries."""
    entries = []
    for text, digest in (("quay.io/airgap-test/app@" + D1, D1), ("registry.redhat.io/airgap-test/tool@" + D2, D2)):
        src = R.parse(text)
        dest = R.parse("10.88.0.1:5000/mirror/%s:mirror-%s" % (src.name.partition("/")[2], digest.replace(":", "-")))
        entries.append(MODEL.Entry(src, digest, "application/vnd.oci.image.manifest.v1+json",
                                   MODEL.RegistryDestination(dest), size=1).to_dict())
    pairs = F.rename_mirror_registries(RC.registries_conf_pairs({"images": entries}),
                                       {"10.88.0.1:5000": "mirror.test:5000"})
    assert pairs == [{"source": "quay.io", "mirror": "mirror.test:5000/mirror"},
                     {"source": "registry.redhat.io", "mirror": "mirror.test:5000/mirror"}]
    assert F.mirror_registries(pairs) == ["mirror.test:5000"]
    text = RC.registries_conf_toml(pairs)
    assert 'location = "mirror.test:5000/mirror"' in text and "10.88.0.1" not in text


def test_path_ancestors():
    assert F.path_ancestors(["/etc/crio", "/etc/containers/certs.d/m.example.com:5000"]) == [
        "/etc", "/etc/containers", "/etc/crio", "/etc/containers/certs.d",
        "/etc/containers/certs.d/m.example.com:5000"]
    assert F.path_ancestors("/root/.config/containers/") == ["/root", "/root/.config", "/root/.config/containers"]
    assert F.path_ancestors(["/var/lib/../lib/x", "/var//lib"]) == ["/var", "/var/lib", "/var/lib/x"]
    assert F.path_ancestors(["/../etc/./crio"]) == ["/etc", "/etc/crio"]
    assert F.path_ancestors([]) == [] and F.path_ancestors(["/"]) == []


@pytest.mark.parametrize("bad, message", [
    (["etc/crio"], "not an absolute path"),
    ([None], "not an absolute path"),
    ({"/etc": 1}, "expected a list"),
])
def test_path_ancestors_rejects(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F.path_ancestors(bad)


# -- controller-side inputs of the role (issue 12, D10, D11) ------------------------------------

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_controller_file_looks_in_the_inventory_then_the_playbook_directory(tmp_path):
    inv, play = tmp_path / "inventory", tmp_path / "playbooks"
    (inv / "files" / "ca").mkdir(parents=True)
    (play / "files").mkdir(parents=True)
    (inv / "files" / "ca" / "root.pem").write_text(PEM)
    (play / "files" / "map.yml").write_text("images: []\n")
    (play / "map.yml").write_text("images: []\n")
    search = [str(inv), None, str(play)]
    assert F.controller_file("files/ca/root.pem", search) == str(inv / "files" / "ca" / "root.pem")
    # <dir>/<path> first, then <dir>/files/<path>, the inventory's directory before the playbook's
    assert F.controller_file("map.yml", search) == str(play / "map.yml")
    (play / "map.yml").unlink()
    assert F.controller_file("map.yml", search) == str(play / "files" / "map.yml")
    assert F.controller_file(str(play / "files" / "map.yml"), []) == str(play / "files" / "map.yml")


def test_controller_file_names_every_path_tried(tmp_path):
    inv, play = tmp_path / "inventory", tmp_path / "playbooks"
    with pytest.raises(AnsibleFilterError) as err:
        F.controller_file("files/quay-rootCA/rootCA.pem", [str(inv), str(play)], "the CA")
    assert str(err.value) == (
        "the CA: files/quay-rootCA/rootCA.pem is not a file on the controller (relative paths are looked up in the "
        "inventory and playbook directories); tried: %s/files/quay-rootCA/rootCA.pem, "
        "%s/files/quay-rootCA/rootCA.pem" % (inv, play))
    with pytest.raises(AnsibleFilterError, match="tried: %s/map.yml, %s/files/map.yml$" % (inv, inv)):
        F.controller_file("map.yml", [str(inv), str(inv)])
    with pytest.raises(AnsibleFilterError, match="the map: /nowhere/map.yml is not a file on the controller$"):
        F.controller_file("/nowhere/map.yml", [str(inv)], "the map")
    (tmp_path / "adir").mkdir()
    with pytest.raises(AnsibleFilterError, match="is not a file"):
        F.controller_file(str(tmp_path / "adir"), [])
    with pytest.raises(AnsibleFilterError, match="give an absolute path"):
        F.controller_file("map.yml", [None])
    with pytest.raises(AnsibleFilterError, match="expected a file name"):
        F.controller_file("", [str(inv)])


def test_ca_trust_contents_reads_controller_files_and_keeps_the_rest(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "root.pem").write_text(PEM)
    items = [{"name": "a", "src": "root.pem"},
             {"name": "b", "content": PEM},
             {"name": "c", "src": "/etc/pki/on-the-host.pem", "remote_src": True},
             {"name": "d", "src": str(tmp_path / "files" / "root.pem"), "remote_src": False, "state": "present"}]
    out = F.ca_trust_contents(items, [str(tmp_path)])
    assert out == [{"name": "a", "content": PEM},
                   {"name": "b", "content": PEM},
                   {"name": "c", "src": "/etc/pki/on-the-host.pem", "remote_src": True},
                   {"name": "d", "content": PEM, "state": "present"}]
    assert items[0] == {"name": "a", "src": "root.pem"}, "the input is not modified"
    assert F.ca_trust_contents(None) == [] and F.ca_trust_contents([]) == []


def test_ca_trust_contents_refuses_what_is_not_a_certificate(tmp_path):
    (tmp_path / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (tmp_path / "cert.der").write_bytes(b"\x30\x82\x03\xff\xfe")
    with pytest.raises(AnsibleFilterError, match=r"registry_mirror_host_ca_trust item k: %s is not a PEM certificate "
                                                 r"\(no '-----BEGIN CERTIFICATE-----' line\)" % (tmp_path / "key.pem")):
        F.ca_trust_contents([{"name": "k", "src": "key.pem"}], [str(tmp_path)])
    with pytest.raises(AnsibleFilterError, match=r"item d: .*cert\.der is not a PEM certificate \(not text\)"):
        F.ca_trust_contents([{"name": "d", "src": str(tmp_path / "cert.der")}])
    with pytest.raises(AnsibleFilterError, match="item i: its content is not a PEM certificate"):
        F.ca_trust_contents([{"name": "i", "content": "PEM"}])
    with pytest.raises(AnsibleFilterError, match=r"item m: src: missing\.pem is not a file on the controller .*tried: "):
        F.ca_trust_contents([{"name": "m", "src": "missing.pem"}], [str(tmp_path)])
    with pytest.raises(AnsibleFilterError, match=r"registry_mirror_host_ca_trust\[0\]: expected a dict"):
        F.ca_trust_contents(["x"])


@pytest.mark.parametrize("registry, loopback", [
    ("localhost:8443", True), ("localhost", True), ("LOCALHOST:5000", True), ("registry.localhost:5000", True),
    ("127.0.0.1:5402", True), ("127.1.2.3", True), ("[::1]:5000", True), ("0.0.0.0:5000", True),
    ("[::ffff:127.0.0.1]:5000", True), ("localhost:8443/mirror", True),
    ("10.88.0.1:5000", False), ("mirror.test:5000", False), ("localhost-mirror.example.com", False),
    ("[fd00::1]:5000", False), ("128.0.0.1", False), ("mylocalhost:5000", False),
])
def test_loopback_registries(registry, loopback):
    assert F.loopback_registries([registry, "mirror.example.com:8443"]) == ([registry] if loopback else [])


def test_loopback_registries_input():
    assert F.loopback_registries(None) == [] and F.loopback_registries("127.0.0.1:1") == ["127.0.0.1:1"]
    assert F.loopback_registries(["localhost:1", "localhost:1"]) == ["localhost:1"]
    with pytest.raises(AnsibleFilterError, match="expected a list"):
        F.loopback_registries({"a": 1})


def test_ca_trust_items_sorts_present_and_absent():
    items = [{"name": "a", "content": "PEM", "state": "present"}, {"name": "b", "src": "/b"},
             {"name": "c", "state": "absent"}]
    got = F.ca_trust_items(items)
    assert [i["name"] for i in got["present"]] == ["b", "a"] and [i["name"] for i in got["absent"]] == ["c"]
    assert got["bad_names"] == [] and got["bad_sources"] == []
    gone = F.ca_trust_items(items, "absent")
    assert gone["present"] == [] and [i["name"] for i in gone["absent"]] == ["a", "b", "c"]
    assert F.ca_trust_items(None) == {"present": [], "absent": [], "bad_names": [], "bad_sources": []}


def test_ca_trust_items_names_bad_names_and_sources():
    got = F.ca_trust_items([{"name": "x.crt", "content": "PEM"}, {"name": "d/e", "content": "PEM"},
                            {"name": "x", "content": "PEM", "src": "/x"}, {"name": "y"}, {"name": "z", "state": "absent"}])
    assert got["bad_names"] == ["d/e", "x.crt"]
    assert got["bad_sources"] == ["x", "y"]
    with pytest.raises(AnsibleFilterError, match="^ca_trust_items: state must be present or absent"):
        F.ca_trust_items([], "gone")
    with pytest.raises(AnsibleFilterError, match="^ca_trust_items: expected a list"):
        F.ca_trust_items(["x"])


def test_service_names():
    assert F.service_names({"crio.service": {}, "microshift.service": {}, "ssh": {}}) == ["crio", "microshift", "ssh"]
    assert F.service_names(None) == []
    with pytest.raises(AnsibleFilterError, match="^service_names: expected ansible_facts.services"):
        F.service_names(["crio"])
