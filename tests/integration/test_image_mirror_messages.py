"""airgap.mirror.image_mirror refuses bad references and options with a message that says what is
wrong -- before any connection, and without repeating a secret written into a reference.

No registry is needed: every case fails while parsing. The ports and hosts named are never
contacted (the total of requests and retries of the run proves it).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

SECRET = "Pw-4f9c2e71d3-never-shown"

PLAY = """
- name: Bad references
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Credentials in dest
      airgap.mirror.image_mirror:
        images: [quay.io/org/app:1]
        dest: "mirror:{{ secret }}@127.0.0.1:1"
      ignore_errors: true

    - name: Credentials in an image
      airgap.mirror.image_mirror:
        images: ["robot:{{ secret }}@mirror.example.com:5000/org/app:1"]
        dest: 127.0.0.1:1
      ignore_errors: true

    - name: Credentials in an explicit destination
      airgap.mirror.image_mirror:
        images:
          - src: quay.io/org/app:1
            dest: "robot:{{ secret }}@mirror.example.com/org/app:1"
        dest: mirror.example.com
      ignore_errors: true

    - name: A token as user name in src
      airgap.mirror.image_mirror:
        src: "{{ secret }}@mirror.example.com"
        images: [all]
        dest: 127.0.0.1:1
      ignore_errors: true

    - name: Port out of range in an image
      airgap.mirror.image_mirror:
        images: ["127.0.0.1:99999/org/app:1"]
        dest: "oci:{{ layout }}"
      ignore_errors: true

    - name: Port out of range in dest
      airgap.mirror.image_mirror:
        images: [quay.io/org/app:1]
        dest: 127.0.0.1:99999/mirror
      ignore_errors: true

    - name: A sha512 digest of sha256 length
      airgap.mirror.image_mirror:
        images: ["quay.io/org/app@sha512:{{ '0' * 64 }}"]
        dest: "oci:{{ layout }}"
      ignore_errors: true

    - name: A ca_path that does not exist
      airgap.mirror.image_mirror:
        images: [127.0.0.1:1/org/app:1]
        dest: "oci:{{ layout }}"
        ca_path: "{{ missing_ca }}"
      ignore_errors: true
"""


def test_bad_references_are_named_and_secrets_never_shown(ansible_run, tmp_path):
    layout = tmp_path / "layout"
    missing_ca = tmp_path / "no-such-dir" / "ca.crt"
    res = ansible_run.playbook(PLAY, extra_vars={"secret": SECRET, "layout": str(layout),
                                                 "missing_ca": str(missing_ca)}, verbosity=4)
    assert res.rc == 0, res.output

    # credentials: refused by option, the reference shown without them, at -vvvv the secret nowhere
    for task, option, shown in (
            ("Credentials in dest", "dest", "<redacted>@127.0.0.1:1"),
            ("Credentials in an image", "images", "<redacted>@mirror.example.com:5000/org/app:1"),
            ("Credentials in an explicit destination", "images", "<redacted>@mirror.example.com/org/app:1"),
            ("A token as user name in src", "src", "<redacted>@mirror.example.com")):
        record = res.one(task)
        assert record["failed"], (task, record["result"])
        msg = record["result"]["msg"]
        assert msg.startswith("%s: invalid image reference %r" % (option, shown)), (task, msg)
        assert "cannot hold credentials" in msg and "digest" not in msg.split("cannot hold", 1)[0], (task, msg)
        assert "images" not in record["result"], "refused before any planning: %s" % task
    assert SECRET not in res.stdout + res.stderr
    assert SECRET not in json.dumps(res.results)
    assert "********" in res.stdout, "the echoed task arguments are masked, not absent"

    # a port outside 1-65535: refused at parse, naming the reference, nothing contacted
    record = res.one("Port out of range in an image")["result"]
    assert record["failed_images"][0]["error"].endswith(
        "invalid image reference '127.0.0.1:99999/org/app:1': port 99999 of registry host '127.0.0.1:99999' "
        "is outside 1-65535"), record["failed_images"]
    assert record["totals"]["requests"] == 0 and record["totals"]["retries"] == 0
    record = res.one("Port out of range in dest")["result"]
    assert record["msg"] == ("invalid image reference '127.0.0.1:99999/mirror': port 99999 of registry host "
                             "'127.0.0.1:99999' is outside 1-65535"), record["msg"]

    # sha512 with 64 hex digits: the wrong length, not "unsupported"
    error = res.one("A sha512 digest of sha256 length")["result"]["failed_images"][0]["error"]
    assert "sha512 digest must have 128 hex digits, got 64" in error and "supported" not in error, error

    # a ca_path that does not exist says so
    record = res.one("A ca_path that does not exist")
    assert record["failed"]
    text = record["result"]["msg"]
    assert "ca_path %s does not exist" % missing_ca in text and "holds no certificate" not in text, text
