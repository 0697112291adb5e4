"""registry_mirror_host_signatures (airgap.mirror.signature_policy through the role) on a real Debian
host: skopeo ON THE HOST, with the policy.json, keys and registries.d file the role wrote, pulls
through the mirror (a registries.conf drop-in from the mirror map) and enforces GPG signatures read
from the air-gapped lookaside store (a directory on the host, file://).

Signatures are made by an independent client: ``skopeo standalone-sign`` with throw-away keys
(tests/support/gpg.py). What is proven:

* the signed image, pulled by its SOURCE name and digest, is copied (through the mirror);
* an unsigned image and one signed by another key are refused, each with containers/image's own
  error; the same through the MIRROR name (the role's mirror scope with remapIdentity);
* the policy is evaluated against the logical (source) name and the signature is looked up under
  the mirror's repository path (a signature stored under the source path is not found);
* the site's own scope and default stay; check mode changes nothing; a second run changes nothing;
  state=absent gives the host back its first state (policy.json byte for byte).

Sigstore: Debian's containers/image has sigstore disabled, so a sigstoreSigned scope cannot be
proven to accept anything here; what is proven is that skopeo loads the files (a pull from an
insecureAcceptAnything scope works with them present), finds the cosign attachment (made by
tests/support/cosign.py) in the mirror's repository, and refuses it with "Debian-local change:
sigstore disabled" rather than letting the image through.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from support import cosign, hosts, images
from support.ansible_run import AnsibleResult, AnsibleRunner
from support.gpg import make_key
from support.skopeo import fatal_line as fatal

pytestmark = [pytest.mark.integration, pytest.mark.hosts]

POLICY = "/etc/containers/policy.json"
REGISTRIES_D = "/etc/containers/registries.d/airgap-mirror.yaml"
KEYS_DIR = "/etc/containers/keys"
PULL_SECRET = "/etc/crio/openshift-pull-secret"
STATE_DIR = "/var/lib/airgap-mirror"
POLICY_RECORD = STATE_DIR + "/signature_policy-airgap-mirror.json"
LOOKASIDE = "/srv/sigstore"
FINGERPRINT_PATHS = ("/etc", "/root", STATE_DIR)
ROLE = "airgap.mirror.registry_mirror_host : "
WRITE = ROLE + "Write the signature policy"
SITE_SCOPE = "docker.io/site/own"
NAMES = {"signed": "quay.io/airgap-test/signed", "unsigned": "quay.io/airgap-test/unsigned",
         "other": "quay.io/airgap-test/other", "tool": "registry.redhat.io/airgap-rh/tool",
         "free": "registry.access.redhat.com/airgap-free/free"}


def configure(pattern: str, **play_vars) -> dict:
    return {"import_playbook": "airgap.mirror.configure_hosts", "vars": {"airgap_mirror_hosts": pattern, **play_vars}}


def marker(name: str) -> dict:
    return {"name": name, "hosts": "all", "gather_facts": False,
            "tasks": [{"name": name, "ansible.builtin.debug": {"msg": name}}]}


def pull_play(name: str, refs: list[str]) -> dict:
    """skopeo copy (which evaluates the policy) of each reference on the host."""
    return {"name": name, "hosts": "node1", "gather_facts": False, "tasks": [{
        "name": name,
        "ansible.builtin.shell": (f"rm -rf /tmp/pull && skopeo --debug copy --authfile {PULL_SECRET} "
                                  "docker://{{ item }} dir:/tmp/pull"),
        "loop": refs,
        "failed_when": False,
        "changed_when": False,
    }]}


def pulls(res: AnsibleResult, name: str) -> dict[str, dict]:
    return {r["result"]["item"]: r["result"] for r in res.task(name, "node1", items=True)}


def run(runner: AnsibleRunner, bed: hosts.HostBed, plays: list[dict], **kwargs) -> AnsibleResult:
    res = runner.playbook(json.dumps(plays, indent=1) + "\n", inventory=bed.inventory, **kwargs)
    assert res.rc == 0, res.output
    return res


def accepted(result: dict, mirror_repo: str) -> None:
    assert result["rc"] == 0, result["stderr"][-3000:]
    assert f'Trying to access \\"{mirror_repo}@' in result["stderr"], result["stderr"][-3000:]


def test_signature_policy_on_a_debian_host(debian_hosts, hosts_mirror_registry, tmp_path):
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")
    layout = images.OCILayout(tmp_path / "oci")
    digests = {}
    for short, name in NAMES.items():
        img = hosts.unique_image(layout, ref=None)
        layout.tag(f"{name}@{img.digest}", img.descriptor)
        digests[short] = img.digest
    refs = {short: f"{NAMES[short]}@{digests[short]}" for short in NAMES}
    alice, bob = make_key(tmp_path, "alice"), make_key(tmp_path, "bob")
    inventory_dir = tmp_path / "hostbed"
    (inventory_dir / "files").mkdir(parents=True)
    (inventory_dir / "files" / "alice.gpg").write_bytes(alice.public)
    rh_key = cosign.make_key()
    (inventory_dir / "files" / "rh-sigstore.pub").write_bytes(rh_key.public_pem)
    mirror_map = inventory_dir / "mirror-map.yml"
    signatures = [
        {"source": "quay.io/airgap-test", "kind": "gpg", "keys": ["files/alice.gpg"]},
        {"source": "registry.redhat.io/airgap-rh", "kind": "sigstore", "keys": ["files/rh-sigstore.pub"]},
    ]
    bed = debian_hosts(1, "node", host_vars={"node1": {
        "registry_mirror_host_ca_trust": [{"name": "airgap-test-mirror", "src": str(reg.ca_path)}],
        "registry_mirror_host_username": reg.username,
        "registry_mirror_host_password": reg.password,
        "registry_mirror_host_mirror_map": "mirror-map.yml",
        "registry_mirror_host_mirror_names": {reg.host: reg.mirror_host},
        "registry_mirror_host_signatures": signatures,
        "registry_mirror_host_lookaside": f"file://{LOOKASIDE}",
        "airgap_mirror_become": False,
    }})
    # the site's own policy: Debian's default plus a scope of its own, which the role must keep
    site_policy = json.loads(bed.exec("node1", "cat", POLICY).stdout)
    site_policy.setdefault("transports", {}).setdefault("docker", {})[SITE_SCOPE] = [{"type": "reject"}]
    site_text = json.dumps(site_policy, indent=2) + "\n"
    bed.exec("node1", "python3", "-c", f"open({POLICY!r}, 'w').write({site_text!r})")
    pristine = bed.fingerprint("node1", FINGERPRINT_PATHS)

    # -- run 1: fill the mirror ----------------------------------------------------------------------
    run(runner, bed, [{"name": "Fill the mirror", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Fill the mirror",
        "airgap.mirror.image_mirror": {
            "images": ["all"], "src": f"oci:{layout.path}", "dest": f"{reg.host}/mirror",
            "dest_username": reg.username, "dest_password": reg.password, "ca_path": str(reg.ca_path),
            "mirror_map": str(mirror_map)},
    }]}])
    # where each image is in the mirror (the physical repository the host reads)
    entries = {e["source"]: e["destination"] for e in yaml.safe_load(mirror_map.read_text())["images"]}
    mirror_repo = {short: entries[refs[short]].rsplit(":", 1)[0].replace(reg.host, reg.mirror_host, 1)
                   for short in NAMES}
    # the air-gapped lookaside store, laid out by the mirror's repository paths: alice signs
    # "signed", bob signs "other"; "signed" also gets a copy under its SOURCE path in a second store
    store = tmp_path / "lookaside"
    source_store = tmp_path / "lookaside-by-source"
    for short, key in (("signed", alice), ("other", bob)):
        sig = tmp_path / f"{short}.sig"
        subprocess.run(["skopeo", "standalone-sign", "-o", str(sig), str(layout.blob_path(digests[short])),
                        f"{NAMES[short]}:1.0", key.fingerprint], check=True, env=key.env(), timeout=60)
        key.stop_agent()
        path = mirror_repo[short].split("/", 1)[1]
        for root, repo in ((store, path), (source_store, NAMES[short].split("/", 1)[1])):
            target = root / f"{repo}@sha256={digests[short][7:]}"
            target.mkdir(parents=True)
            shutil.copy(sig, target / "signature-1")
    # a cosign signature (sha256-<hex>.sig) of "tool" by the sigstore key, in the mirror next to it
    payload = cosign.make_payload(NAMES["tool"], digests["tool"])
    cosign.push_signatures(reg, mirror_repo["tool"].split("/", 1)[1], digests["tool"],
                           [(payload, rh_key.sign(payload))])
    copy_store = {"name": "The air-gapped lookaside store", "hosts": "node1", "gather_facts": False, "tasks": [
        {"name": "Copy the lookaside store", "ansible.builtin.copy": {
            "src": f"{store}/", "dest": f"{LOOKASIDE}/", "mode": "u=rwX,go=rX"}},
        {"name": "Copy the store by source paths", "ansible.builtin.copy": {
            "src": f"{source_store}/", "dest": "/srv/by-source/", "mode": "u=rwX,go=rX"}}]}

    # -- run 2: check mode changes nothing and says what would change ------------------------------
    check = run(runner, bed, [configure("node1")], check=True, diff=True)
    assert bed.fingerprint("node1", FINGERPRINT_PATHS) == pristine, "check mode changed the host"
    would = check.one(WRITE, "node1")
    assert would["changed"], would
    headers = [d["after_header"] for d in would["result"]["diff"]]
    assert headers == [POLICY_RECORD, POLICY, f"{KEYS_DIR}/alice.gpg", f"{KEYS_DIR}/rh-sigstore.pub", REGISTRIES_D]

    # -- run 3: the role, then skopeo on the host -----------------------------------------------------
    mirror_pulls = [f"{mirror_repo['signed']}@{digests['signed']}", f"{mirror_repo['unsigned']}@{digests['unsigned']}"]
    res = run(runner, bed, [
        copy_store,
        pull_play("before", [refs["unsigned"]]),
        configure("node1"),
        pull_play("after", list(refs.values()) + mirror_pulls),
        marker("again"),
        configure("node1"),
    ], diff=True)
    # before the role: the mirror is not configured yet, the pull fails (quay.io is unreachable)
    assert pulls(res, "before")[refs["unsigned"]]["rc"] != 0
    done = res.task(WRITE, "node1")
    assert done[0]["changed"] and not done[1]["changed"], done  # a second run changes nothing
    policy = json.loads(bed.exec("node1", "cat", POLICY).stdout)
    docker = policy["transports"]["docker"]
    assert docker[SITE_SCOPE] == [{"type": "reject"}] and policy["default"] == site_policy["default"]
    assert {k: v for k, v in policy["transports"].items() if k != "docker"} == \
        {k: v for k, v in site_policy["transports"].items() if k != "docker"}
    mirror_ns = mirror_repo["signed"].rsplit("/", 1)[0]
    assert docker["quay.io/airgap-test"] == [{"type": "signedBy", "keyType": "GPGKeys",
                                              "keyPath": f"{KEYS_DIR}/alice.gpg"}]
    assert docker[mirror_ns][0]["signedIdentity"] == {
        "type": "remapIdentity", "prefix": mirror_ns, "signedPrefix": "quay.io/airgap-test"}
    assert docker["registry.redhat.io/airgap-rh"][0]["type"] == "sigstoreSigned"
    registries_d = yaml.safe_load(bed.exec("node1", "cat", REGISTRIES_D).stdout)["docker"]
    assert registries_d["quay.io/airgap-test"] == registries_d[mirror_ns] == {"lookaside": f"file://{LOOKASIDE}"}
    assert registries_d["registry.redhat.io/airgap-rh"] == {"use-sigstore-attachments": True}
    modes = bed.exec("node1", "stat", "-c", "%n %a", f"{KEYS_DIR}/alice.gpg", REGISTRIES_D, POLICY_RECORD).stdout
    assert modes.split() == [f"{KEYS_DIR}/alice.gpg", "644", REGISTRIES_D, "644", POLICY_RECORD, "600"]

    after = pulls(res, "after")
    # the signed image, by its source name and digest, through the mirror, signature from the store
    accepted(after[refs["signed"]], mirror_repo["signed"])
    # containers/image's own errors
    assert "Source image rejected: A signature was required, but no signature exists" in fatal(after[refs["unsigned"]])
    other = fatal(after[refs["other"]])
    assert "Source image rejected: Invalid GPG signature" in other and bob.fingerprint in other, other
    # by the mirror's own name: the mirror scope (remapIdentity) accepts the source's signature
    accepted(after[mirror_pulls[0]], mirror_repo["signed"])
    assert "A signature was required, but no signature exists" in fatal(after[mirror_pulls[1]])
    # sigstore: the sigstoreSigned scope loads and is enforced, not skipped
    # the host reads the cosign attachment from the MIRROR's repository (use-sigstore-attachments of the
    # role's registries.d file) and Debian's build refuses to verify it
    tool = after[refs["tool"]]
    sig_tag = cosign.signature_tag(digests["tool"])
    assert f"Looking for sigstore attachments in {mirror_repo['tool']}:{sig_tag}" in tool["stderr"]
    assert "Found a sigstore attachment manifest with 1 layers" in tool["stderr"]
    assert "Source image rejected: Debian-local change: sigstore disabled" in fatal(tool)
    # the files load: a scope without requirements (the default) still pulls with them present
    accepted(after[refs["free"]], mirror_repo["free"])

    # -- where containers/image looks: policy by the source name, signatures by the mirror's path ----
    probe = run(runner, bed, [
        {"name": "Probe", "hosts": "node1", "gather_facts": False, "tasks": [
            {"name": "A registries.d directory of its own", "ansible.builtin.file": {
                "path": "/tmp/registries.d", "state": "directory", "mode": "0755"}},
            {"name": "Point the lookaside at the store laid out by source paths", "ansible.builtin.copy": {
                "dest": "/tmp/registries.d/probe.yaml",
                "content": json.dumps({"docker": {"quay.io/airgap-test": {"lookaside": "file:///srv/by-source"},
                                                  mirror_ns: {"lookaside": "file:///srv/by-source"}}})}},
            {"name": "Pull with it", "ansible.builtin.command": (
                f"skopeo --registries.d /tmp/registries.d copy --authfile {PULL_SECRET} "
                f"docker://{refs['signed']} dir:/tmp/probe"),
             "failed_when": False, "changed_when": False}]}])
    assert "no signature exists" in fatal(probe.one("Pull with it", "node1")["result"])

    # -- run 4: state=absent, in check mode first (nothing changes), gives back the first state --------
    configured = bed.fingerprint("node1", FINGERPRINT_PATHS)
    give_back = (ROLE + "Give back the signature policy scopes and remove the keys and registries.d file the "
                 "role added")
    check = run(runner, bed, [configure("node1", registry_mirror_host_state="absent")], check=True, diff=True)
    assert bed.fingerprint("node1", FINGERPRINT_PATHS) == configured, "check mode changed the host"
    would = check.one(give_back, "node1")["result"]
    assert would["changed"] and set(would["removed"]) >= {f"{KEYS_DIR}/alice.gpg", REGISTRIES_D, POLICY_RECORD,
                                                          KEYS_DIR}, would
    res = run(runner, bed, [
        configure("node1", registry_mirror_host_state="absent"),
        marker("absent again"),
        configure("node1", registry_mirror_host_state="absent"),
    ], diff=True)
    gone = res.task(give_back, "node1")
    assert gone[0]["changed"] and not gone[1]["changed"], gone
    assert bed.exec("node1", "cat", POLICY).stdout == site_text
    assert bed.fingerprint("node1", FINGERPRINT_PATHS) == pristine
