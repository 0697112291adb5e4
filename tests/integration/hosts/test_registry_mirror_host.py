"""airgap.mirror.registry_mirror_host (through the airgap.mirror.configure_hosts playbook) on real
Debian hosts: podman containers reached over ssh, a TLS + htpasswd mirror on the bridge gateway
filled by airgap.mirror.image_mirror, and skopeo on each host as the client (the containers/image
library CRI-O uses).

Three hosts with different variables:

* node1, the MicroShift case: pairs from the mirror map (the map names the mirror 10.88.0.1:<port>,
  the hosts know it as mirror.test:<port>), credentials in /etc/crio/openshift-pull-secret, the CA
  in the system trust only.
* node2, the "mirrored by other means" case: explicit pairs, credentials in
  /root/.config/containers/auth.json (a path skopeo reads by default for root), the CA also in
  certs.d, and a drop-in of its own that already claims quay.io (the conflict warning).
* node3, fresh, only ever sees check mode: as a Debian host (with reboot asked for) and with
  RedHat facts injected (the RHEL-family path of the trust store, which cannot run here).

Each host proves: before the role skopeo cannot get quay.io/...@sha256 (quay.io is unreachable);
after it, skopeo gets exactly that manifest through the mirror (the ``Trying to access`` line and
the digest), TLS verified by what the role installed and credentials from the file it wrote; a
second run changes nothing and notifies no handler; state=absent gives back the host's first
state (fingerprint) and pulls fail again. Three ansible-playbook runs in all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

import pytest

from support import hosts, images
from support.ansible_run import AnsibleResult, AnsibleRunner

pytestmark = [pytest.mark.integration, pytest.mark.hosts]

CA_NAME = "airgap-test-mirror"
DROPIN = "/etc/containers/registries.conf.d/999-microshift-mirror.conf"
OLD_DROPIN = "/etc/containers/registries.conf.d/99-old-mirror.conf"
PULL_SECRET = "/etc/crio/openshift-pull-secret"
USER_AUTH = "/root/.config/containers/auth.json"
STATE_DIR = "/var/lib/airgap-mirror"
RECORD = STATE_DIR + "/registry_mirror_host-999-microshift-mirror.json"
# what the fingerprint covers: the bed's defaults (/etc, /usr/local/share/ca-certificates, /root)
# and the role's record directory
FINGERPRINT_PATHS = ("/etc", "/usr/local/share/ca-certificates", "/root", STATE_DIR)
ROLE = "airgap.mirror.registry_mirror_host : "
REMOVE_RECORD = ROLE + "Remove the record and the directories the role created, when they are empty"

OLD_DROPIN_TEXT = ('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n\n'
                   '[[registry.mirror]]\nlocation = "old-mirror.invalid:5000"\n')


def trying(ref: str, whole: bool = True) -> str:
    """The ``--debug`` line containers/image logs for each location it tries (logfmt-quoted)."""
    return f'Trying to access \\"{ref}' + ('\\"' if whole else "")


def records_between(res: AnsibleResult, start: str | None, end: str | None) -> list[dict]:
    """The final task records after the marker task *start* and before the marker *end*."""
    names = [r["task"] for r in res.results]
    lo = names.index(start) if start else -1
    hi = names.index(end) if end else len(names)
    return [r for r in res.results[lo + 1:hi] if r["kind"] == "task"]


def one(records: list[dict], task: str, host: str) -> dict:
    found = [r for r in records if r["task"] == task and r["host"] == host]
    assert len(found) == 1, (task, host, sorted({(r["host"], r["task"]) for r in records}))
    return found[0]


def marker(name: str, pattern: str = "all") -> dict:
    return {"name": name, "hosts": pattern, "gather_facts": False,
            "tasks": [{"name": name, "ansible.builtin.debug": {"msg": name}}]}


def configure(pattern: str, **play_vars) -> dict:
    return {"import_playbook": "airgap.mirror.configure_hosts", "vars": {"airgap_mirror_hosts": pattern, **play_vars}}


def inspect_play(name: str, pattern: str) -> dict:
    """skopeo inspect --raw of every image in the host's ``test_images`` (its ``test_auth_args``)."""
    return {"name": name, "hosts": pattern, "gather_facts": False, "tasks": [{
        "name": name,
        "ansible.builtin.command": "skopeo --debug inspect --raw {{ test_auth_args }} docker://{{ item }}",
        "loop": "{{ test_images }}",
        "failed_when": False,
        "changed_when": False,
    }]}


def inspections(res: AnsibleResult, name: str, host: str) -> dict[str, dict]:
    """Image reference -> the result of its inspect on *host*."""
    return {r["result"]["item"]: r["result"] for r in res.task(name, host, items=True)}


def assert_through_mirror(result: dict, mirror_ref: str, digest: str, manifest: dict) -> None:
    assert result["rc"] == 0, result["stderr"][-3000:]
    assert trying(mirror_ref) in result["stderr"], result["stderr"][-3000:]
    assert json.loads(result["stdout"]) == manifest
    assert "sha256:" + hashlib.sha256(result["stdout"].encode()).hexdigest() == digest


def assert_not_through_mirror(result: dict, reg: hosts.MirrorRegistry, source_ref: str) -> None:
    assert result["rc"] != 0, result["stdout"][-500:]
    assert trying(source_ref) in result["stderr"], result["stderr"][-3000:]
    assert trying(f"{reg.mirror_host}/", whole=False) not in result["stderr"], result["stderr"][-3000:]


REPORT = "Report the services that could not be reloaded or restarted"
DECIDE = "Work out which services to reload or restart"
HANDLERS = (DECIDE, "Reload the container runtime services", "Restart the container runtime services", REPORT,
            "Reboot the host")


def told(res: AnsibleResult, host: str) -> list[str]:
    """What the report handler said on *host* (one message per service it would have acted on)."""
    return [r["result"]["msg"] for r in res.task(ROLE + REPORT, host, items=True) if r["status"] == "ok"]


def run(runner: AnsibleRunner, bed: hosts.HostBed, plays: list[dict], **kwargs) -> AnsibleResult:
    res = runner.playbook(json.dumps(plays, indent=1) + "\n", inventory=bed.inventory, **kwargs)
    assert res.rc == 0, res.output
    return res


def test_registry_mirror_host_on_debian_hosts(debian_hosts, hosts_mirror_registry, tmp_path):
    t_test = time.monotonic()
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")

    # Two images under vendor names that are unreachable from here; the layout's ref names are
    # their source references, as in a layout image_mirror wrote on the connected side.
    layout = images.OCILayout(tmp_path / "oci")
    built = []
    for name in ("quay.io/airgap-test/app", "registry.redhat.io/airgap-test/tool"):
        img = hosts.unique_image(layout, ref=None)
        layout.tag(f"{name}@{img.digest}", img.descriptor)
        built.append((f"{name}@{img.digest}", img.digest, json.loads(layout.blob_path(img.digest).read_bytes())))
    (app_ref, app_digest, app_manifest), (tool_ref, tool_digest, tool_manifest) = built
    # node1 and node3 name the mirror map and the CA relative to the inventory's directory, as
    # docs/microshift.md shows (the role used to look only in its own and the collection's
    # directories); node2 gives the CA's absolute path
    inventory_dir = tmp_path / "hostbed"
    mirror_map = inventory_dir / "mirror-map.yml"
    (inventory_dir / "files" / "quay-rootCA").mkdir(parents=True)
    (inventory_dir / "files" / "quay-rootCA" / "rootCA.pem").write_bytes(reg.ca_path.read_bytes())

    common = {
        "registry_mirror_host_ca_trust": [{"name": CA_NAME, "src": str(reg.ca_path)}],
        "registry_mirror_host_username": reg.username,
        "registry_mirror_host_password": reg.password,
        "airgap_mirror_become": False,  # root over ssh; the hosts have no sudo
    }
    microshift_like = {
        **common,
        "registry_mirror_host_ca_trust": [{"name": CA_NAME, "src": "files/quay-rootCA/rootCA.pem"}],
        "registry_mirror_host_mirror_map": "mirror-map.yml",
        "registry_mirror_host_mirror_names": {reg.host: reg.mirror_host},
        "test_images": [app_ref, tool_ref],
        "test_auth_args": f"--authfile {PULL_SECRET}",
    }
    host_vars = {
        "node1": microshift_like,
        "node2": {
            **common,
            "registry_mirror_host_pairs": [{"source": "quay.io", "mirror": f"{reg.mirror_host}/mirror"},
                                           {"source": "registry.redhat.io", "mirror": f"{reg.mirror_host}/mirror"}],
            "registry_mirror_host_auth_file": USER_AUTH,
            "registry_mirror_host_certs_d": True,
            "test_images": [app_ref],
            "test_auth_args": "",  # skopeo reads /root/.config/containers/auth.json by default
        },
        "node3": {**microshift_like, "registry_mirror_host_reboot": True},
    }
    bed = debian_hosts(3, "node", host_vars=host_vars)
    assert bed.inventory.parent == inventory_dir
    bed.exec("node2", "sh", "-c", f"printf '%s' '{OLD_DROPIN_TEXT}' > {OLD_DROPIN}")
    pristine = {h: bed.fingerprint(h, FINGERPRINT_PATHS) for h in bed.hosts}
    assert OLD_DROPIN in pristine["node2"] and DROPIN not in pristine["node1"]
    t_setup = time.monotonic() - t_test

    # -- run 1: fill the mirror with image_mirror, then the role on node1 and node2 ----------------
    t0 = time.monotonic()
    res = run(runner, bed, [
        {"name": "Fill the mirror", "hosts": "localhost", "gather_facts": False, "tasks": [{
            "name": "Fill the mirror",
            "airgap.mirror.image_mirror": {
                "images": ["all"], "src": f"oci:{layout.path}", "dest": f"{reg.host}/mirror",
                "dest_username": reg.username, "dest_password": reg.password, "ca_path": str(reg.ca_path),
                "mirror_map": str(mirror_map)},
        }]},
        inspect_play("before", "node1:node2"),
        configure("node1:node2"),
        inspect_play("after", "node1:node2"),
    ], diff=True)
    t_run1 = time.monotonic() - t0
    assert res.one("Fill the mirror")["changed"]
    # before: skopeo tries the vendor registry only, and fails
    for host, refs in (("node1", [app_ref, tool_ref]), ("node2", [app_ref])):
        before = inspections(res, "before", host)
        assert set(before) == set(refs)
        for ref in refs:
            assert_not_through_mirror(before[ref], reg, ref)
    # after, node1: both images through the mirror named as the hosts know it (the map said
    # 10.88.0.1:<port>), TLS verified by the system trust (no certs.d, no --cert-dir, not
    # insecure), credentials from the pull secret the role wrote (--authfile; no other auth file)
    after = inspections(res, "after", "node1")
    assert_through_mirror(after[app_ref], f"{reg.mirror_host}/mirror/airgap-test/app@{app_digest}", app_digest,
                          app_manifest)
    assert_through_mirror(after[tool_ref], f"{reg.mirror_host}/mirror/airgap-test/tool@{tool_digest}", tool_digest,
                          tool_manifest)
    assert "/etc/containers/certs.d" not in after[app_ref]["stderr"]
    # after, node2: through the mirror, not through the older drop-in's mirror; the certs.d copy is used
    after2 = inspections(res, "after", "node2")[app_ref]
    assert_through_mirror(after2, f"{reg.mirror_host}/mirror/airgap-test/app@{app_digest}", app_digest, app_manifest)
    assert "old-mirror.invalid" not in after2["stderr"]
    assert f"/etc/containers/certs.d/{reg.mirror_host}/{CA_NAME}.crt" in after2["stderr"]

    # what the role did, task by task
    role = records_between(res, None, "after")
    dropin1 = one(role, ROLE + "Write the registries.conf.d drop-in", "node1")
    assert dropin1["changed"] and not dropin1["warnings"]
    assert dropin1["result"]["prefixes"] == [reg.mirror_host, "quay.io", "registry.redhat.io"]
    assert reg.host not in dropin1["result"]["content"]
    dropin2 = one(role, ROLE + "Write the registries.conf.d drop-in", "node2")
    assert dropin2["result"]["conflicts"] == [{"prefix": "quay.io", "file": OLD_DROPIN, "winner": DROPIN}]
    assert any(f"prefix quay.io is also defined in {OLD_DROPIN}" in w for w in dropin2["warnings"]), dropin2
    # --diff names the file written on the host, not the controller's source
    for host, dest in (("node1", f"/usr/local/share/ca-certificates/{CA_NAME}.crt"),
                       ("node2", f"/usr/local/share/ca-certificates/{CA_NAME}.crt"),
                       ("node2", f"/etc/containers/certs.d/{reg.mirror_host}/{CA_NAME}.crt")):
        task = "Install the CA certificates into " + ("certs.d" if "certs.d" in dest else "the system trust")
        (item,) = [r for r in res.task(ROLE + task, host, items=True) if r["result"].get("dest") == dest]
        (diff,) = item["result"]["diff"]
        assert diff["after_header"] == dest and diff["after"] == reg.ca_path.read_text(), (host, diff)
    for host, refresh in (("node1", "update-ca-certificates"), ("node2", "update-ca-certificates")):
        rec = one(role, ROLE + f"Refresh the system trust ({refresh})", host)
        assert rec["changed"] and "1 added" in rec["result"]["stdout"], rec
    # the handlers were notified; the CA changed: CRI-O and MicroShift restart; no crio/microshift
    # here (no systemd), so each says so
    for host, inputs in (("node1", "dropin, ca, auth"), ("node2", "dropin, certs_d, ca, auth")):
        restart = one(role, "airgap.mirror.registry_mirror_host : Restart the container runtime services", host)
        assert restart["skipped"], restart
        assert told(res, host) == [
            f"crio not restarted ({inputs} changed): there is no crio service on this host (service manager "
            "catatonit); it reads the new configuration when it starts",
            "microshift not restarted (ca changed): there is no microshift service on this host (service manager "
            "catatonit); it reads the new configuration when it starts"]
        assert one(role, ROLE + "Reboot the host", host)["skipped"]  # not asked for
    # files, modes and the record of what was created
    out = bed.exec("node1", "stat", "-c", "%n %a", PULL_SECRET, DROPIN,
                   f"/usr/local/share/ca-certificates/{CA_NAME}.crt").stdout.split("\n")
    assert out[:3] == [f"{PULL_SECRET} 600", f"{DROPIN} 644", f"/usr/local/share/ca-certificates/{CA_NAME}.crt 644"]
    assert json.loads(bed.exec("node1", "cat", PULL_SECRET).stdout) == json.loads(reg.host_auth_json())
    assert json.loads(bed.exec("node1", "cat", RECORD).stdout) == {
        "format": "airgap.mirror/registry_mirror_host/v1",
        "created_dirs": ["/etc/crio", STATE_DIR], "created_files": [PULL_SECRET]}
    assert json.loads(bed.exec("node2", "cat", RECORD).stdout)["created_dirs"] == [
        "/etc/containers/certs.d", f"/etc/containers/certs.d/{reg.mirror_host}", "/root/.config",
        "/root/.config/containers", STATE_DIR]
    assert bed.exec("node2", "stat", "-c", "%a", USER_AUTH).stdout.strip() == "600"
    configured = {h: bed.fingerprint(h, FINGERPRINT_PATHS) for h in ("node1", "node2")}
    first = res

    # -- run 2: check mode: state=absent on node1 and node2; on the fresh node3 as a Debian host and
    # with RedHat facts
    t0 = time.monotonic()
    check = run(runner, bed, [
        configure("node1:node2", registry_mirror_host_state="absent"),
        marker("fresh host"),
        configure("node3"),
        marker("pretend to be RHEL", "node3"),
        {"name": "RHEL family in check mode", "hosts": "node3", "gather_facts": False, "tasks": [
            {"name": "Gather the facts", "ansible.builtin.setup": {"gather_subset": ["!all", "min"]}},
            {"name": "Inject RedHat facts", "ansible.builtin.set_fact": {
                "ansible_os_family": "RedHat", "ansible_distribution": "RedHat", "cacheable": True}},
            {"name": "Run the role", "ansible.builtin.include_role": {"name": "airgap.mirror.registry_mirror_host"},
             "vars": {"registry_mirror_host_reboot": False}},
        ]},
    ], check=True, diff=True)
    t_run2 = time.monotonic() - t0
    assert bed.fingerprint("node3", FINGERPRINT_PATHS) == pristine["node3"], "check mode changed node3"
    for host in ("node1", "node2"):
        assert bed.fingerprint(host, FINGERPRINT_PATHS) == configured[host], f"check mode changed {host}"
    check_absent = records_between(check, None, "fresh host")
    for host in ("node1", "node2"):
        would = {r["task"] for r in check_absent if r["host"] == host and r["changed"]}
        assert {ROLE + "Remove CA certificates from the system trust", ROLE + "Remove the registries.conf.d drop-in",
                ROLE + "Remove the mirror credentials from the credentials file", REMOVE_RECORD} <= would, (host, would)
    # check mode says which directories a real run removes (counting what the tasks before would remove)
    would_rmdir = one(check_absent, REMOVE_RECORD, "node2")
    assert would_rmdir["result"]["removed_dirs"] == [
        STATE_DIR, "/root/.config/containers", "/root/.config", f"/etc/containers/certs.d/{reg.mirror_host}",
        "/etc/containers/certs.d"]
    assert one(check_absent, REMOVE_RECORD, "node1")["result"]["removed_dirs"] == [STATE_DIR, "/etc/crio"]
    debian = records_between(check, "fresh host", "pretend to be RHEL")
    would = {r["task"] for r in debian if r["changed"]}
    for task in ("Write the record", "Install the CA certificates into the system trust",
                 "Write the registries.conf.d drop-in", "Merge the mirror credentials into the credentials file"):
        assert ROLE + task in would, (task, sorted(would))
    refresh = one(debian, ROLE + "Refresh the system trust (update-ca-certificates)", "node3")
    # the trust store is not touched in check mode
    assert refresh["skipped"] and not refresh["changed"] and refresh["result"]["cmd"] == ["update-ca-certificates"]
    dropin3 = one(debian, ROLE + "Write the registries.conf.d drop-in", "node3")
    assert f'location = "{reg.mirror_host}/mirror"' in dropin3["result"]["diff"]["after"]
    reboot = one(debian, ROLE + "Reboot the host", "node3")  # asked for, and something would change
    assert reboot["changed"] and reboot["result"]["rebooted"], reboot
    assert one(debian, ROLE + "Restart the container runtime services", "node3")["skipped"]
    rhel = records_between(check, "pretend to be RHEL", None)
    assert one(rhel, ROLE + "Load the trust store layout of the OS family RedHat", "node3")["status"] == "ok"
    # the certificate would go into the anchors directory, then `update-ca-trust extract` would run
    (anchor,) = check.task(ROLE + "Install the CA certificates into the system trust", "node3", items=True)[1:]
    assert anchor["changed"], anchor
    assert anchor["result"]["invocation"]["module_args"]["dest"] == f"/etc/pki/ca-trust/source/anchors/{CA_NAME}.crt"
    refresh = one(rhel, ROLE + "Refresh the system trust (update-ca-trust extract)", "node3")
    assert refresh["skipped"] and refresh["result"]["cmd"] == ["update-ca-trust", "extract"], refresh
    assert not [r for r in rhel if r["task"] == ROLE + "Reboot the host" and r["changed"]]

    # -- run 3: a second run changes nothing; state=absent removes exactly what was added ----------
    t0 = time.monotonic()
    res = run(runner, bed, [
        configure("node1:node2"),
        marker("absent"),
        configure("node1:node2", registry_mirror_host_state="absent"),
        marker("absent again"),
        configure("node1:node2", registry_mirror_host_state="absent"),
        inspect_play("after absent", "node1:node2"),
    ], diff=True)
    t_run3 = time.monotonic() - t0
    second = records_between(res, None, "absent")
    assert not [r["task"] for r in second if r["changed"] and r["host"] in ("node1", "node2")], second
    assert not [r for r in second if r["task"].startswith(ROLE) and r["task"][len(ROLE):] in HANDLERS], second
    absent = records_between(res, "absent", "absent again")
    for host in ("node1", "node2"):
        removed = {r["task"] for r in absent if r["host"] == host and r["changed"]}
        assert {ROLE + "Remove CA certificates from the system trust",
                ROLE + "Refresh the system trust (update-ca-certificates --fresh)",
                ROLE + "Remove the registries.conf.d drop-in",
                ROLE + "Remove the mirror credentials from the credentials file",
                REMOVE_RECORD} <= removed, (host, removed)
        assert one(absent, ROLE + REPORT, host)["status"] == "ok"
        # the removed CA restarts CRI-O and MicroShift (the same rules as for present)
        inputs = "dropin, ca, auth" if host == "node1" else "dropin, certs_d, ca, auth"
        decided = one(absent, ROLE + DECIDE, host)["result"]["ansible_facts"]["__registry_mirror_host_service_actions"]
        assert decided == [
            {"service": "crio", "action": "restart", "inputs": inputs.split(", "), "present": False},
            {"service": "microshift", "action": "restart", "inputs": ["ca"], "present": False}], host
    rmdir2 = one(absent, REMOVE_RECORD, "node2")
    assert rmdir2["result"]["removed_dirs"] == [
        STATE_DIR, "/root/.config/containers", "/root/.config", f"/etc/containers/certs.d/{reg.mirror_host}",
        "/etc/containers/certs.d"]
    again = records_between(res, "absent again", "after absent")
    assert not [r["task"] for r in again if r["changed"]], [r["task"] for r in again if r["changed"]]
    for host, refs in (("node1", [app_ref, tool_ref]), ("node2", [app_ref])):
        gone = inspections(res, "after absent", host)
        for ref in refs:
            assert_not_through_mirror(gone[ref], reg, ref)
        assert bed.fingerprint(host, FINGERPRINT_PATHS) == pristine[host], host
    assert "old-mirror.invalid" in inspections(res, "after absent", "node2")[app_ref]["stderr"], \
        "the host's own drop-in is still there and used"

    # the credentials never reached any output
    for result in (first, check, res):
        everything = result.stdout + result.stderr + json.dumps(result.results)
        assert reg.password not in everything
    print(f"\n[registry_mirror_host] setup {t_setup:.1f}s, run 1 {t_run1:.1f}s, check runs {t_run2:.1f}s, "
          f"second run + absent {t_run3:.1f}s, total {time.monotonic() - t_test:.1f}s")


BAD_INPUT = [
    ({"registry_mirror_host_pairs": []}, "registry_mirror_host has nothing to write"),
    ({"registry_mirror_host_password": ""}, "needs a username and a password together"),
    ({"registry_mirror_host_ca_trust": [{"name": "x.crt", "content": "PEM"}]},
     "names must be file names without a directory or '.crt' (letters, digits, '.', '_', '-'): x.crt"),
    ({"registry_mirror_host_ca_trust": [{"name": "x", "content": "PEM", "src": "/x"}, {"name": "y"}]},
     "give exactly one of content or src for: x, y"),
    ({"registry_mirror_host_mirror_names": {"elsewhere:5000": "mirror.test:5000"}},
     "elsewhere:5000 is not a mirror registry of the pairs (they name: mirror.test:5000)"),
    ({"registry_mirror_host_dropin": "/etc/containers/registries.conf.d/mirror.toml"}, "ending in .conf"),
    ({"registry_mirror_host_state": "gone"}, "registry_mirror_host_state"),
    # issue 12 D10: every controller-side input is checked before the first change on a host (this
    # host has credentials, so the role would write its record first), relative paths are looked
    # up in the inventory and playbook directories and the error names the paths tried
    ({"registry_mirror_host_ca_trust": [{"name": "quay-root", "src": "files/quay-rootCA/rootCA.pem"}]},
     "registry_mirror_host_ca_trust item quay-root: src: files/quay-rootCA/rootCA.pem is not a file on the controller "
     "(relative paths are looked up in the inventory and playbook directories); tried: {inventory_dir}/files/"
     "quay-rootCA/rootCA.pem, {playbook_dir}/files/quay-rootCA/rootCA.pem"),
    ({"registry_mirror_host_ca_trust": [{"name": "not-a-ca", "src": "not-a-ca.txt"}]},
     "registry_mirror_host_ca_trust item not-a-ca: {inventory_dir}/not-a-ca.txt is not a PEM certificate"),
    ({"registry_mirror_host_mirror_map": "files/mirror-map.yml"},
     "registry_mirror_host_mirror_map: files/mirror-map.yml is not a file on the controller (relative paths are "
     "looked up in the inventory and playbook directories); tried: {inventory_dir}/files/mirror-map.yml, "
     "{playbook_dir}/files/mirror-map.yml"),
    ({"registry_mirror_host_registries": [
        {"prefix": "quay.io", "mirrors": [{"location": "mirror.test:5000", "pull_from": "mirror"}]}]},
     "registries[0] (quay.io): mirrors[0]: unknown key(s) pull_from"),
    # issue 12 D11: a loopback mirror name, from the pairs or from a mirror map found next to the
    # inventory, is refused unless allowed
    ({"registry_mirror_host_pairs": [{"source": "quay.io", "mirror": "127.0.0.1:5402/mirror"}]},
     "registry_mirror_host would write the mirror registry 127.0.0.1:5402 into every host's drop-in and credentials: "
     "a loopback name, which on each host means that host itself. Set registry_mirror_host_mirror_names"),
    ({"registry_mirror_host_pairs": [], "registry_mirror_host_mirror_map": "loopback-map.yml"},
     "or set registry_mirror_host_allow_loopback_mirror: true"),
    ({"registry_mirror_host_pairs": [{"source": "quay.io", "mirror": "localhost:8443"}],
      "registry_mirror_host_allow_loopback_mirror": True,
      "registry_mirror_host_dropin": "/etc/containers/registries.conf.d/mirror.toml"}, "ending in .conf"),
]

LOOPBACK_MAP = """format: airgap.mirror/v1
images:
- source: quay.io/org/app@sha256:{hex}
  source_tag: null
  digest: sha256:{hex}
  media_type: application/vnd.oci.image.manifest.v1+json
  platforms: []
  size: 1
  destination: localhost:8443/org/app:mirror-sha256-{hex}
  attachments: []
""".format(hex="1" * 64)


def test_bad_input_is_refused_before_anything_changes(debian_hosts, tmp_path):
    """Wrong variables fail with a message naming the problem, and nothing on the host changes
    (one run: each case in a block whose rescue keeps the message)."""
    bed = debian_hosts(1, "bad", host_vars=[{
        "registry_mirror_host_pairs": [{"source": "quay.io", "mirror": "mirror.test:5000"}],
        "registry_mirror_host_username": "u", "registry_mirror_host_password": secrets.token_hex(8)}])
    before = bed.fingerprint("bad1", FINGERPRINT_PATHS)
    (bed.workdir / "loopback-map.yml").write_text(LOOPBACK_MAP)
    (bed.workdir / "not-a-ca.txt").write_text("-----BEGIN PRIVATE KEY-----\n")
    dirs = {"inventory_dir": bed.workdir, "playbook_dir": tmp_path / "ansible"}
    tasks = [{"name": f"case {i}",
              "block": [{"name": f"role {i}", "ansible.builtin.include_role": {
                  "name": "airgap.mirror.registry_mirror_host"}, "vars": bad}],
              "rescue": [{"name": f"refused {i}",
                          "ansible.builtin.debug": {"msg": "{{ ansible_failed_result.msg }}"}}]}
             for i, (bad, _message) in enumerate(BAD_INPUT)]
    res = AnsibleRunner(tmp_path / "ansible").playbook(
        json.dumps([{"name": "bad input", "hosts": "bad1", "gather_facts": False, "tasks": tasks}]) + "\n",
        inventory=bed.inventory)
    assert res.rc == 0, res.output
    for i, (_bad, message) in enumerate(BAD_INPUT):
        assert message.format(**dirs) in res.one(f"refused {i}", "bad1")["result"]["msg"], (i, res.output)
    assert not res.changed, [r["task"] for r in res.changed]
    assert bed.fingerprint("bad1", FINGERPRINT_PATHS) == before


def test_which_services_each_change_reloads_or_restarts(debian_hosts, hosts_pki, tmp_path):
    """One input changed at a time on one host, each in its own play (handlers run at the end of
    each): the drop-in alone -> CRI-O reload; the pull secret -> CRI-O restart; the system trust ->
    CRI-O and MicroShift restart; certs.d -> CRI-O reload; nothing -> no handler at all; check mode
    -> the decision is made, nothing runs and nothing changes.

    The host has no CRI-O, no MicroShift and no systemd (catatonit is its init): the proof is which
    handlers the role notified, the decision the first handler made (service, action, the inputs
    that call for it) and what the report handler says it would have done. The
    ansible.builtin.service calls themselves (``systemctl reload crio``) are not run here.
    """
    pairs = [{"source": "quay.io", "mirror": "mirror.test:5000/mirror"}]
    creds = {"registry_mirror_host_username": "puller", "registry_mirror_host_password": secrets.token_hex(8)}
    ca = {"registry_mirror_host_ca_trust": [{"name": CA_NAME, "src": str(hosts_pki.ca_cert)}]}
    bed = debian_hosts(1, "svc", host_vars=[{"registry_mirror_host_pairs": pairs, "airgap_mirror_become": False}])
    host = "svc1"
    steps = [
        ("drop-in", {}),
        ("pull secret", creds),
        ("system trust", {**creds, **ca}),
        ("certs.d", {**creds, **ca, "registry_mirror_host_certs_d": True}),
        ("nothing", {**creds, **ca, "registry_mirror_host_certs_d": True}),
    ]
    plays: list[dict] = []
    for name, step_vars in steps:
        plays += [marker(name), configure(host, **step_vars)]
    runner = AnsibleRunner(tmp_path / "ansible")
    res = run(runner, bed, plays + [marker("end")], diff=True)

    def step(name: str, following: str) -> list[dict]:
        return [r for r in records_between(res, name, following) if r["host"] == host]

    def decision(records: list[dict]) -> list[dict]:
        return one(records, ROLE + DECIDE, host)["result"]["ansible_facts"]["__registry_mirror_host_service_actions"]

    def said(name: str, following: str) -> list[str]:
        names = [r["task"] for r in res.results]
        lo, hi = names.index(name), names.index(following)
        return [r["result"]["msg"] for r in res.results[lo:hi]
                if r["kind"] == "item" and r["task"] == ROLE + REPORT and r["status"] == "ok"]

    def absent(svc: str, action: str, inputs: str) -> str:
        return (f"{svc} not {action}ed ({inputs} changed): there is no {svc} service on this host (service manager "
                "catatonit); it reads the new configuration when it starts")

    expected = {
        "drop-in": ([{"service": "crio", "action": "reload", "inputs": ["dropin"], "present": False}],
                    [absent("crio", "reload", "dropin")]),
        "pull secret": ([{"service": "crio", "action": "restart", "inputs": ["auth"], "present": False}],
                        [absent("crio", "restart", "auth")]),
        "system trust": ([{"service": "crio", "action": "restart", "inputs": ["ca"], "present": False},
                          {"service": "microshift", "action": "restart", "inputs": ["ca"], "present": False}],
                         [absent("crio", "restart", "ca"), absent("microshift", "restart", "ca")]),
        "certs.d": ([{"service": "crio", "action": "reload", "inputs": ["certs_d"], "present": False}],
                    [absent("crio", "reload", "certs_d")]),
    }
    writes = {"drop-in": "Write the registries.conf.d drop-in",
              "pull secret": "Merge the mirror credentials into the credentials file",
              "system trust": "Install the CA certificates into the system trust",
              "certs.d": "Install the CA certificates into certs.d"}
    # tasks that change what the inputs need, and notify nothing themselves
    quiet = ("Write the record", "Refresh the system trust (update-ca-certificates)",
             "Create the certs.d directory of each mirror registry")
    names = [name for name, _vars in steps] + ["end"]
    for name, following in zip(names, names[1:]):
        records = step(name, following)
        changed = sorted(r["task"][len(ROLE):] for r in records if r["changed"] and r["task"].startswith(ROLE)
                         and r["task"][len(ROLE):] not in quiet + HANDLERS)
        if name == "nothing":
            assert changed == [], changed
            assert not [r["task"] for r in records if r["task"][len(ROLE):] in HANDLERS], records
            continue
        # exactly one input changed, so exactly its topic was notified
        assert changed == [writes[name]], (name, changed)
        actions, messages = expected[name]
        assert decision(records) == actions, name
        assert said(name, following) == messages, name
        for handler in ("Reload the container runtime services", "Restart the container runtime services"):
            assert one(records, ROLE + handler, host)["skipped"], (name, handler)
        assert one(records, ROLE + "Reboot the host", host)["skipped"]

    # check mode: a new pair changes the drop-in; the decision is the reload, nothing runs, nothing changes
    before = bed.fingerprint(host, FINGERPRINT_PATHS)
    more = pairs + [{"source": "registry.redhat.io", "mirror": "mirror.test:5000/mirror"}]
    check = run(runner, bed, [marker("check"), configure(host, registry_mirror_host_pairs=more, **creds, **ca,
                                                         registry_mirror_host_certs_d=True), marker("end")],
                check=True, diff=True)
    records = [r for r in records_between(check, "check", "end") if r["host"] == host]
    assert one(records, ROLE + "Write the registries.conf.d drop-in", host)["changed"]
    assert one(records, ROLE + DECIDE, host)["result"]["ansible_facts"]["__registry_mirror_host_service_actions"] == [
        {"service": "crio", "action": "reload", "inputs": ["dropin"], "present": False}]
    for handler in ("Reload the container runtime services", "Restart the container runtime services"):
        assert one(records, ROLE + handler, host)["skipped"], handler
    assert bed.fingerprint(host, FINGERPRINT_PATHS) == before
