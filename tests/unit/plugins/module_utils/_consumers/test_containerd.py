"""containerd hosts.toml and k3s registries.yaml from mirror pairs: rendered, parsed back, and
checked against schemas written from the products' documentation (schemas/*.schema.json)."""

import json
import pathlib
import tomllib

import jsonschema
import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import containerd as C
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.pairs import (
    pairs_from_mirror_map,
)
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as MM
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

SCHEMAS = pathlib.Path(__file__).parent / "schemas"
HOSTS_SCHEMA = json.loads((SCHEMAS / "containerd-hosts.schema.json").read_text())
K3S_SCHEMA = json.loads((SCHEMAS / "k3s-registries.schema.json").read_text())
D1 = "sha256:" + "11" * 32
CA = "/etc/containerd/certs.d/airgap-mirror-ca.crt"


def hosts_doc(text):
    assert text.startswith(C.HEADER)
    doc = tomllib.loads(text)
    jsonschema.validate(doc, HOSTS_SCHEMA)
    return doc


def k3s_ok(doc):
    jsonschema.validate(doc, K3S_SCHEMA)
    return doc


def mirror_map(dest, mode="keep", overrides=None, sources=()):
    mapping = M.Mapping(dest, mode, overrides)
    entries = []
    for text in sources:
        src = R.parse(text)
        entries.append(MM.Entry(src, D1, "application/vnd.oci.image.manifest.v1+json",
                                MM.RegistryDestination(mapping.map(src, digest=D1)), size=1).to_dict())
    return {"format": MM.FORMAT, "images": entries}


SOURCES = ("quay.io/org/app:1", "docker.io/library/nginx:1.27", "registry.redhat.io/ubi9/ubi:9.4")


def test_mirror_map_to_hosts_toml_same_paths():
    pairs = pairs_from_mirror_map(mirror_map("mirror.test:5000", sources=SOURCES))
    files = C.containerd_hosts(pairs, ca_file=CA)
    assert sorted(files) == ["docker.io", "mirror.test:5000", "quay.io", "registry.redhat.io"]
    quay = hosts_doc(files["quay.io"])
    assert quay == {"server": "https://quay.io",
                    "host": {"https://mirror.test:5000": {"capabilities": ["pull", "resolve"], "ca": CA}}}
    assert hosts_doc(files["docker.io"])["server"] == "https://registry-1.docker.io"
    own = hosts_doc(files["mirror.test:5000"])
    assert own["server"] == "https://mirror.test:5000"
    assert own["host"]["https://mirror.test:5000"]["ca"] == CA
    # the mirror comes first: it is the only host, containerd falls back to server afterwards
    assert list(quay["host"]) == ["https://mirror.test:5000"]
    assert "skip_verify" not in files["quay.io"]


def test_namespace_prefix_is_override_path_with_the_full_v2_path():
    pairs = pairs_from_mirror_map(mirror_map("mirror.test:5000/ns", sources=SOURCES))
    files = C.containerd_hosts(pairs, ca_file=CA, mirror_registry_entry=False)
    assert sorted(files) == ["docker.io", "quay.io", "registry.redhat.io"]
    host = hosts_doc(files["quay.io"])["host"]
    assert host == {"https://mirror.test:5000/v2/ns": {"capabilities": ["pull", "resolve"], "override_path": True,
                                                       "ca": CA}}


def test_skip_verify_and_client_certificate_only_when_told():
    pairs = [{"source": "quay.io", "mirror": "m.example.com:8443"}]
    text = C.containerd_hosts(pairs, skip_verify=True, client_cert="/c.pem", client_key="/k.pem")["quay.io"]
    host = hosts_doc(text)["host"]["https://m.example.com:8443"]
    assert host["skip_verify"] is True
    assert host["client"] == [["/c.pem", "/k.pem"]]
    assert "ca" not in host
    with pytest.raises(UserError, match="client key needs"):
        C.containerd_hosts(pairs, client_key="/k.pem")


def test_repositories_under_one_prefix_collapse_to_the_registry():
    pairs = [{"source": "quay.io/a/one", "mirror": "m.example.com/ns/a/one"},
             {"source": "quay.io/b/two", "mirror": "m.example.com/ns/b/two"}]
    [route] = C.routes(pairs)
    assert (route.source, route.mirror, route.prefix, route.repositories) == ("quay.io", "m.example.com", "ns", {})


def test_repositories_sent_elsewhere_cannot_be_containerd_but_are_k3s_rewrites():
    mm = mirror_map("m.example.com/ns", overrides={"quay.io/a/two": "elsewhere/two"},
                    sources=("quay.io/a/one:1", "quay.io/a/two:1", "ghcr.io/x/y:1"))
    pairs = pairs_from_mirror_map(mm)
    assert {"source": "quay.io/a/two", "mirror": "m.example.com/elsewhere/two"} in pairs
    with pytest.raises(UserError, match="containerd cannot mirror the repositories of quay.io.*"
                                        "a/two -> elsewhere/two"):
        C.containerd_hosts(pairs)
    doc = k3s_ok(C.k3s_registries(pairs))
    assert doc["mirrors"]["quay.io"] == {"endpoint": ["https://m.example.com"],
                                         "rewrite": {"^a/one$": "ns/a/one", "^a/two$": "elsewhere/two"}}
    assert doc["mirrors"]["ghcr.io"] == {"endpoint": ["https://m.example.com"], "rewrite": {"^(.*)$": "ns/$1"}}


def test_two_mirror_registries_for_one_source_is_an_error():
    pairs = [{"source": "quay.io/a", "mirror": "m1.example.com/a"},
             {"source": "quay.io/b", "mirror": "m2.example.com/b"}]
    with pytest.raises(UserError, match="quay.io is sent to two mirror registries, m1.example.com and m2.example.com"):
        C.routes(pairs)


def test_registry_pair_and_disagreeing_repository_pair_is_an_error():
    pairs = [{"source": "quay.io", "mirror": "m.example.com/ns"},
             {"source": "quay.io/b/c", "mirror": "m.example.com/x"}]
    with pytest.raises(UserError, match="registry-wide mirror m.example.com/ns and repositories sent elsewhere"):
        C.routes(pairs)


@pytest.mark.parametrize("pair", [{"source": "quay.io"}, {"source": "https://quay.io", "mirror": "m.example.com"},
                                  "quay.io", {"source": "quay.io", "mirror": " m.example.com"}])
def test_bad_pairs(pair):
    with pytest.raises(UserError, match=r"pairs\[0\]"):
        C.routes([pair])


def test_the_mirror_itself_is_no_route():
    assert C.routes([{"source": "m.example.com", "mirror": "m.example.com"}]) == []
    assert C.routes(None) == []


def test_k3s_document_with_tls_and_auth():
    pairs = pairs_from_mirror_map(mirror_map("mirror.test:5000/ns", sources=SOURCES))
    doc = k3s_ok(C.k3s_registries(pairs, ca_file=CA, cert_file="/c.pem", key_file="/k.pem", username="u",
                                  password="p:w"))
    assert doc["mirrors"]["docker.io"] == {"endpoint": ["https://mirror.test:5000"], "rewrite": {"^(.*)$": "ns/$1"}}
    assert doc["mirrors"]["mirror.test:5000"] == {"endpoint": ["https://mirror.test:5000"]}
    assert doc["configs"] == {"mirror.test:5000": {
        "auth": {"username": "u", "password": "p:w"},
        "tls": {"ca_file": CA, "cert_file": "/c.pem", "key_file": "/k.pem"}}}


def test_k3s_without_prefix_has_no_rewrite_and_skip_verify_only_when_told():
    pairs = [{"source": "quay.io", "mirror": "m.example.com:8443"}]
    doc = k3s_ok(C.k3s_registries(pairs, mirror_registry_entry=False))
    assert doc == {"mirrors": {"quay.io": {"endpoint": ["https://m.example.com:8443"]}}}
    doc = k3s_ok(C.k3s_registries(pairs, skip_verify=True))
    assert doc["configs"] == {"m.example.com:8443": {"tls": {"insecure_skip_verify": True}}}


@pytest.mark.parametrize("kwargs, match", [({"username": "u"}, "username and a password"),
                                           ({"cert_file": "/c"}, "client certificate and its key")])
def test_k3s_half_given_inputs(kwargs, match):
    with pytest.raises(UserError, match=match):
        C.k3s_registries([{"source": "quay.io", "mirror": "m.example.com"}], **kwargs)


def test_the_schema_refuses_undocumented_keys():
    with pytest.raises(jsonschema.ValidationError):
        k3s_ok({"mirrors": {"quay.io": {"endpoints": ["https://m"]}}})
    with pytest.raises(jsonschema.ValidationError):
        k3s_ok({"configs": {"m": {"tls": {"ca": "/x"}}}})
    with pytest.raises(jsonschema.ValidationError):
        hosts_doc(C.HEADER + 'server = "https://quay.io"\n[host."https://m"]\nrewrite = "x"\n')
