"""Secrets hygiene: every module and role of the collection that takes credentials, run through
``ansible-playbook -vvvv --diff`` against real registries (TLS + htpasswd, and distribution's
token mode), successes and failures on purpose (wrong password, unreachable registry, untrusted
certificate, plain HTTP where TLS is expected). Then ALL output is searched -- stdout, stderr, the
task results, Ansible's log file, and every file the collection wrote (mirror maps, layouts,
bundle manifests, resume state, rendered manifests) -- for each password and its base64 forms
(``base64(user:password)``, ``base64(password)``, standard and URL-safe, with and without padding),
and nothing may be found. The files that must hold credentials (an auth.json, rendered Secrets)
must be 0600 -- and they are also the positive control: the search does find the secrets there.

TLS verification is on unless a registry is listed insecure: a TLS registry whose CA is not given
fails with a message that names the ``ca_path`` option; listed insecure it works without the CA; a
plain-HTTP registry not listed insecure fails with a message that says to list it.
"""

from __future__ import annotations

import base64
import json
import secrets
import stat
from pathlib import Path

import pytest

from support import images
from support.registry import free_port
from support.tokenserver import TokenServer

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as mirrormap_model
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference

pytestmark = pytest.mark.integration

PRODUCTS = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "products"

PLAYBOOK = """
- name: Modules with credentials
  hosts: localhost
  gather_facts: false
  vars:
    mirror_args: &mirror
      images: ["{{ src }}/good/app:1"]
      dest: "{{ dst }}"
      ca_path: "{{ ca }}"
      retries: 2
  tasks:
    - name: Auth file entry for the source registry
      airgap.mirror.registry_auth:
        path: "{{ out }}/auth/auth.json"
        registry: "{{ src }}"
        username: "{{ src_user }}"
        password: "{{ src_password }}"
        create_dirs: true

    - name: Auth file entry for the mirror registry
      airgap.mirror.registry_auth:
        path: "{{ out }}/auth/auth.json"
        registry: "{{ dst }}"
        username: "{{ dst_user }}"
        password: "{{ dst_password }}"

    - name: Auth file entry into a file that is not JSON (fails)
      airgap.mirror.registry_auth:
        path: "{{ out }}/broken/auth.json"
        registry: "{{ dst }}"
        username: "{{ dst_user }}"
        password: "{{ dst_password }}"
      ignore_errors: true

    - name: Mirror with explicit credentials
      airgap.mirror.image_mirror:
        <<: *mirror
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ dst_user }}"
        dest_password: "{{ dst_password }}"
        mirror_map: "{{ out }}/map-explicit/mirror-map.yml"

    - name: Mirror with the auth file
      airgap.mirror.image_mirror:
        <<: *mirror
        dest: "{{ dst }}/via-auth-file"
        auth_file: "{{ out }}/auth/auth.json"
        mirror_map: "{{ out }}/map-auth-file/mirror-map.yml"

    - name: Mirror with a wrong password (fails)
      airgap.mirror.image_mirror:
        <<: *mirror
        dest: "{{ dst }}/wrong"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ dst_user }}"
        dest_password: "{{ dst_password }}-wrong"
      ignore_errors: true

    - name: Mirror to an unreachable registry (fails)
      airgap.mirror.image_mirror:
        <<: *mirror
        dest: "{{ unreachable }}"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ dst_user }}"
        dest_password: "{{ dst_password }}"
      ignore_errors: true

    - name: Mirror without the CA (fails)
      airgap.mirror.image_mirror:
        images: ["{{ src }}/good/app:1"]
        dest: "{{ dst }}/no-ca"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ dst_user }}"
        dest_password: "{{ dst_password }}"
        retries: 1
      ignore_errors: true

    - name: Mirror to registries listed insecure, without the CA
      airgap.mirror.image_mirror:
        images: ["{{ src }}/good/app:1"]
        dest: "{{ dst }}/insecure"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ dst_user }}"
        dest_password: "{{ dst_password }}"
        insecure_registries: ["{{ src }}", "{{ dst }}"]

    - name: Mirror to a plain-HTTP registry not listed insecure (fails)
      airgap.mirror.image_mirror:
        <<: *mirror
        dest: "{{ plain }}"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ dst_user }}"
        dest_password: "{{ dst_password }}"
      ignore_errors: true

    - name: Mirror into a token-auth registry
      airgap.mirror.image_mirror:
        <<: *mirror
        dest: "{{ tok }}"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ tok_user }}"
        dest_password: "{{ tok_password }}"
        insecure_registries: ["{{ tok }}"]
        state_dir: "{{ out }}/state"
        mirror_map: "{{ out }}/map-token/mirror-map.yml"

    - name: Mirror into a token-auth registry with a wrong password (fails)
      airgap.mirror.image_mirror:
        <<: *mirror
        dest: "{{ tok }}/wrong"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        dest_username: "{{ tok_user }}"
        dest_password: "{{ tok_password }}-wrong"
        insecure_registries: ["{{ tok }}"]
      ignore_errors: true

    - name: Mirror to disk
      airgap.mirror.image_mirror:
        images: ["{{ src }}/good/app:1"]
        dest: "oci:{{ out }}/layout"
        src_username: "{{ src_user }}"
        src_password: "{{ src_password }}"
        ca_path: "{{ ca }}"
        mirror_map: "{{ out }}/disk-map.yml"

    - name: Pack the layout into a bundle
      airgap.mirror.transfer_bundle:
        action: pack
        layout: "{{ out }}/layout"
        mirror_map: "{{ out }}/disk-map.yml"
        bundle: "{{ out }}/bundle"
      when: bundle_module

- name: The mirror_images role with credentials
  hosts: localhost
  gather_facts: false
  roles:
    - role: airgap.mirror.mirror_images
      vars:
        mirror_images_images: ["{{ src }}/good/app:1"]
        mirror_images_registry: "{{ dst }}/role"
        mirror_images_mirror_map: "{{ out }}/map-role/mirror-map.yml"
        mirror_images_src_username: "{{ src_user }}"
        mirror_images_src_password: "{{ src_password }}"
        mirror_images_dest_username: "{{ dst_user }}"
        mirror_images_dest_password: "{{ dst_password }}"
        mirror_images_ca_path: "{{ ca }}"

- name: The ess_mirror role with credentials (rendering)
  hosts: localhost
  gather_facts: false
  roles:
    - role: airgap.mirror.ess_mirror
      vars:
        ess_mirror_images_digests_file: "{{ ess_file }}"
        ess_mirror_map_file: "{{ out }}/map-explicit/mirror-map.yml"
        ess_mirror_namespace: element-onprem
        ess_mirror_on_missing: warn
        ess_mirror_apply: false
        ess_mirror_manifest_dir: "{{ out }}/ess"
        ess_mirror_registry: "{{ dst }}"
        ess_mirror_registry_username: "{{ dst_user }}"
        ess_mirror_registry_password: "{{ dst_password }}"

- name: The eck_mirror role with credentials (rendering)
  hosts: localhost
  gather_facts: false
  roles:
    - role: airgap.mirror.eck_mirror
      vars:
        eck_mirror_map_file: "{{ eck_map }}"
        eck_mirror_stack_version: "8.16.1"
        eck_mirror_kinds: [Elasticsearch]
        eck_mirror_on_missing: warn
        eck_mirror_install: none
        eck_mirror_apply: false
        eck_mirror_manifest_dir: "{{ out }}/eck"
        eck_mirror_registry: "{{ dst }}"
        eck_mirror_registry_username: "{{ dst_user }}"
        eck_mirror_registry_password: "{{ dst_password }}"
"""

# files the collection writes that MUST hold credentials (relative to out/); all must be 0600
SECRET_FILES = {"auth/auth.json", "ess/secret.yaml", "eck/secrets.yaml"}


def _forms(user: str, password: str) -> dict[str, str]:
    """The password and its encodings that must never appear outside a secret file."""
    forms = {"password": password}
    for label, raw in (("base64(user:password)", f"{user}:{password}"), ("base64(password)", password)):
        data = raw.encode()
        for kind, encoder in (("", base64.b64encode), (" urlsafe", base64.urlsafe_b64encode)):
            text = encoder(data).decode()
            forms[label + kind] = text
            forms[label + kind + " unpadded"] = text.rstrip("=")
    return forms


def _find(text: str, needles: dict[str, str]) -> list[str]:
    return [label for label, needle in needles.items() if needle and needle in text]


def test_no_secret_in_any_output(registry_factory, pki, ansible_run, tmp_path):
    creds = {
        "src": ("mirror-src", "Src-<&>-" + secrets.token_urlsafe(12) + "-ü"),
        "dst": ("mirror-dst", "Dst-<&>-" + secrets.token_urlsafe(12) + "-ß"),
        "tok": ("mirror-tok", "Tok-<&>-" + secrets.token_urlsafe(12)),
    }
    src = registry_factory(tls=True, auth=True, username=creds["src"][0], password=creds["src"][1])
    dst = registry_factory(tls=True, auth=True, username=creds["dst"][0], password=creds["dst"][1])
    plain = registry_factory()
    tokens = TokenServer(tmp_path / "tokens", users={creds["tok"][0]: creds["tok"][1]}).start()
    try:
        tok = registry_factory(extra_config=tokens.registry_config())
        image = images.build_image(images.OCILayout(tmp_path / "sample"), "app",
                                   layers=[{"app/hello.txt": "secrets hygiene sample\n"}])
        images.seed_registry(image, src, "good/app", "1")

        out = tmp_path / "out"
        (out / "broken").mkdir(parents=True)
        (out / "ess").mkdir()  # the roles render into existing directories
        (out / "eck").mkdir()
        (out / "broken" / "auth.json").write_text('{"auths": {\n  "x": \n')  # not JSON
        eck_map = tmp_path / "eck-mirror-map.yml"  # an input: the Elasticsearch image "mirrored" earlier
        source = reference.parse("docker.elastic.co/elasticsearch/elasticsearch:8.16.1")
        eck_map.write_text(mirrormap.dumps([mirrormap_model.Entry(
            source, "sha256:" + "1" * 64, images.OCI_MANIFEST,
            mirrormap_model.RegistryDestination(reference.parse(f"{dst.host}/elasticsearch/elasticsearch:8.16.1")),
            size=1)]))
        bundle_module = (Path(__file__).resolve().parents[2] / "plugins" / "modules" / "transfer_bundle.py").exists()
        log = tmp_path / "ansible.log"
        res = ansible_run.playbook(PLAYBOOK, verbosity=4, diff=True, env={"ANSIBLE_LOG_PATH": str(log)},
                                   extra_vars={
            "src": src.host, "dst": dst.host, "tok": tok.host, "plain": plain.host,
            "unreachable": f"127.0.0.1:{free_port()}", "ca": str(pki.ca_cert), "out": str(out),
            "src_user": creds["src"][0], "src_password": creds["src"][1],
            "dst_user": creds["dst"][0], "dst_password": creds["dst"][1],
            "tok_user": creds["tok"][0], "tok_password": creds["tok"][1],
            "ess_file": str(PRODUCTS / "ess-images_digests.yml"), "bundle_module": bundle_module,
            "eck_map": str(eck_map),
        })
    finally:
        tokens.stop()
    assert res.rc == 0, res.output[-20000:]

    # -- the runs did what they should (so the search below covers real successes and failures)
    for name in ("Mirror with explicit credentials", "Mirror with the auth file",
                 "Mirror to registries listed insecure, without the CA", "Mirror into a token-auth registry",
                 "Mirror to disk"):
        record = res.one(name)
        assert not record["failed"] and record["result"]["totals"]["failed"] == 0, record
    failures = {name: res.one(name) for name in (
        "Auth file entry into a file that is not JSON (fails)", "Mirror with a wrong password (fails)",
        "Mirror to an unreachable registry (fails)", "Mirror without the CA (fails)",
        "Mirror to a plain-HTTP registry not listed insecure (fails)",
        "Mirror into a token-auth registry with a wrong password (fails)")}
    for name, record in failures.items():
        assert record["failed"], (name, record)
    msg = {name: record["result"].get("msg", "") for name, record in failures.items()}
    assert "credentials" in msg["Mirror with a wrong password (fails)"]
    assert "ca_path" in msg["Mirror without the CA (fails)"]  # the message names the option to use
    assert "insecure_registries" in msg["Mirror to a plain-HTTP registry not listed insecure (fails)"]
    assert "credentials" in msg["Mirror into a token-auth registry with a wrong password (fails)"]
    assert str(out / "broken" / "auth.json") in msg["Auth file entry into a file that is not JSON (fails)"]
    if bundle_module:
        assert not res.one("Pack the layout into a bundle")["failed"]
        assert list((out / "bundle").glob("*.bundle.json"))
    record = res.one(f"airgap.mirror.mirror_images : Mirror the images to {dst.host}/role")
    assert not record["failed"] and record["result"]["totals"]["copied"] == 1, record

    # -- the search
    needles = {}
    for who, (user, password) in creds.items():
        for label, needle in _forms(user, password).items():
            needles[f"{who} {label}"] = needle
    leaks = []
    for what, text in (("stdout", res.stdout), ("stderr", res.stderr),
                       ("task results", json.dumps(res.results, ensure_ascii=False)),
                       ("task results (ASCII-escaped)", json.dumps(res.results)),
                       ("ansible log", log.read_text(errors="replace"))):
        leaks += [f"{what}: {label}" for label in _find(text, needles)]
    assert "<localhost> EXEC" in res.stdout, "the run was not verbose: -vvvv output is part of what is searched"

    found_in_secret_files, scanned = set(), set()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel.startswith("broken/"):
            continue  # written by the test
        scanned.add(rel)
        hits = _find(path.read_bytes().decode("utf-8", "replace"), needles)
        if rel in SECRET_FILES:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == 0o600, f"{rel} holds credentials and is {oct(mode)}"
            if hits:
                found_in_secret_files.add(rel)
        elif hits:
            leaks += [f"{rel}: {label}" for label in hits]
    assert leaks == [], "secrets found in output:\n" + "\n".join(leaks)
    expected = {"map-explicit/mirror-map.yml", "map-auth-file/mirror-map.yml", "map-token/mirror-map.yml",
                "map-role/mirror-map.yml", "disk-map.yml", "layout/index.json", "ess/configmap.yaml"}
    assert expected <= scanned, expected - scanned
    if bundle_module:
        assert any(rel.startswith("bundle/") and rel.endswith(".bundle.json") for rel in scanned)
    # positive control: the search does recognise the secrets where they belong
    assert "auth/auth.json" in found_in_secret_files
    for rel in SECRET_FILES:
        assert (out / rel).exists(), f"{rel} was not written"
    # the resume state of the token run was cleaned up (a completed run leaves none)
    assert not (out / "state").exists()
    # what the collection wrote besides the secret files is not secret-bearing: no 0600 needed, but
    # nothing there may be world-writable either
    for path in out.rglob("*"):
        if path.is_file():
            assert not stat.S_IMODE(path.stat().st_mode) & 0o002, path
