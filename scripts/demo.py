"""The airgap.mirror demo (run it with scripts/demo, which installs what it needs first).

The whole air-gap flow, on loopback, with real parts only:

  1. a plain "vendor" registry and a TLS + htpasswd mirror registry (Debian's docker-registry);
  2. a small deterministic multi-arch sample image set pushed to the vendor registry with skopeo,
     and a vendor file listing it: a MicroShift-style release-x86_64.json (images by digest);
  3. connected side, `ansible-playbook airgap.mirror.mirror_to_disk`: release file -> image list ->
     OCI layout -> transfer bundle parts (the "removable media");
  4. air-gapped side, `ansible-playbook airgap.mirror.disk_to_mirror`: verify the parts -> unpack ->
     push to the TLS mirror with authentication -> the mirror map;
  5. a registries.conf.d drop-in rendered from the mirror map (airgap.mirror.registries_conf), the
     mirror's credentials (airgap.mirror.registry_auth) and CA, in a scratch $HOME;
  6. the vendor registry is stopped, and skopeo resolves a *source* reference by digest through that
     drop-in: it can only succeed through the mirror (its debug log names the mirror);
  7. a re-run of both playbooks changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.ansible_run import AnsibleRunner  # noqa: E402
from support.images import sample_set  # noqa: E402
from support.pki import PKI  # noqa: E402
from support.registry import Registry  # noqa: E402

CONSUMER_PLAY = """\
- name: Point a consumer (skopeo, in a scratch HOME) at the mirror, from the mirror map
  hosts: localhost
  gather_facts: false
  vars:
    mirror_map: "{{ lookup('ansible.builtin.file', mirror_map_path) | from_yaml }}"
  tasks:
    - name: Write the registries.conf.d drop-in from the mirror map
      airgap.mirror.registries_conf:
        path: "{{ home }}/.config/containers/registries.conf.d/999-airgap-mirror.conf"
        pairs: "{{ mirror_map | airgap.mirror.registries_conf_pairs }}"
        create_dirs: true
    - name: Put the mirror's credentials in an auth file
      airgap.mirror.registry_auth:
        path: "{{ home }}/auth.json"
        registry: "{{ mirror }}"
        username: "{{ user }}"
        password: "{{ password }}"
    - name: Make the per-user certs.d directory of the mirror
      ansible.builtin.file:
        path: "{{ home }}/.config/containers/certs.d/{{ mirror }}"
        state: directory
        mode: "0755"
    - name: Trust the mirror's CA (containers certs.d, per user)
      ansible.builtin.copy:
        src: "{{ ca }}"
        dest: "{{ home }}/.config/containers/certs.d/{{ mirror }}/ca.crt"
        mode: "0644"
"""


def say(text):
    print("\n\033[1m==> %s\033[0m" % text, flush=True)


def collections_path(workdir):
    base = os.path.join(workdir, "collections")
    os.makedirs(os.path.join(base, "ansible_collections", "airgap"), exist_ok=True)
    link = os.path.join(base, "ansible_collections", "airgap", "mirror")
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return base


def play(runner, playbook, extra_vars, title):
    say(title)
    print("  $ ansible-playbook %s -e @vars.json" % playbook)
    result = runner.playbook(playbook, extra_vars=extra_vars)
    if result.rc != 0:
        print(result.stdout)
        print(result.stderr, file=sys.stderr)
        raise SystemExit("demo: %s failed (rc=%d)" % (playbook, result.rc))
    return result


def summary(images):
    rows = [("IMAGE", "STATUS", "DIGEST", "PLATFORMS", "BYTES", "SECONDS")]
    for img in images:
        rows.append((img["source"], img["status"], (img["digest"] or "")[:19] + "…",
                     ",".join(img["platforms"]) or "-", str(img["bytes"]), "%.3f" % img["seconds"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))


def result_of(res, suffix):
    """The result of the role task whose name ends with *suffix*."""
    for record in res.results:
        if record["kind"] == "task" and record["task"].endswith(suffix):
            return record["result"]
    raise SystemExit("demo: no task ending with %r ran" % suffix)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the mirror registry running")
    parser.add_argument("--workdir", help="where to put everything (default: a new temporary directory)")
    args = parser.parse_args()
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="airgap-demo-"))
    os.makedirs(workdir, exist_ok=True)
    os.environ["AIRGAP_COLLECTIONS_PATH"] = collections_path(workdir)
    for tool in ("docker-registry", "skopeo", "htpasswd", "openssl"):
        if shutil.which(tool) is None:
            raise SystemExit("demo: %s is missing; run scripts/bootstrap" % tool)

    say("Starting two registries on loopback (everything goes to %s)" % workdir)
    pki = PKI(os.path.join(workdir, "pki"))
    vendor = Registry(os.path.join(workdir, "vendor-registry")).start()
    mirror = Registry(os.path.join(workdir, "mirror-registry"), tls=True, auth=True, pki=pki,
                      username="mirror", password="demo-" + os.urandom(6).hex()).start()
    print("  vendor registry (plain HTTP):      %s" % vendor.host)
    print("  mirror registry (TLS + htpasswd):  %s" % mirror.host)
    try:
        say("Sample images pushed to the vendor registry with skopeo, and the vendor's release file")
        samples = sample_set(os.path.join(workdir, "samples"))
        samples.seed(vendor)
        release = {"release": {"base": "4.99.0-airgap-demo"},
                   "images": {ref.split("-")[0]: "%s/%s@%s" % (vendor.host, samples.targets[ref][0], img.digest)
                              for ref, img in samples.images.items()}}
        release_path = os.path.join(workdir, "release-x86_64.json")
        with open(release_path, "w") as handle:
            json.dump(release, handle, indent=2)
        print("  %s:" % release_path)
        for name, ref in release["images"].items():
            print("    %-5s %s" % (name, ref))

        runner = AnsibleRunner(os.path.join(workdir, "ansible"))
        connected = {
            "mirror_images_microshift_release_files": [release_path],
            "mirror_images_layout": os.path.join(workdir, "connected", "images"),
            "mirror_images_mirror_map": os.path.join(workdir, "connected", "disk-map.yml"),
            "mirror_images_bundle_dir": os.path.join(workdir, "media"),
            "mirror_images_part_size": "8K",
            "mirror_images_insecure_registries": [vendor.host],
        }
        res = play(runner, "airgap.mirror.mirror_to_disk", connected,
                   "Connected side: release file -> OCI layout -> bundle parts (airgap.mirror.mirror_to_disk)")
        summary(result_of(res, "Mirror the images to oci:" + connected["mirror_images_layout"])["images"])
        media = sorted(os.listdir(connected["mirror_images_bundle_dir"]))
        print("  removable media %s: %s" % (connected["mirror_images_bundle_dir"], " ".join(media)))

        airgapped = {
            "mirror_images_bundle_dir": connected["mirror_images_bundle_dir"],
            "mirror_images_layout": os.path.join(workdir, "airgapped", "images"),
            "mirror_images_registry": mirror.host,
            "mirror_images_dest_username": mirror.username,
            "mirror_images_dest_password": mirror.password,
            "mirror_images_ca_path": str(mirror.ca_path),
            "mirror_images_mirror_map": os.path.join(workdir, "airgapped", "mirror-map.yml"),
        }
        res = play(runner, "airgap.mirror.disk_to_mirror", airgapped,
                   "Air-gapped side: verify -> unpack -> push to the TLS mirror (airgap.mirror.disk_to_mirror)")
        verified = result_of(res, "Verify the bundle parts")
        print("  verified %d parts" % len(verified.get("parts") or []))
        pushed = result_of(res, "Mirror the images to " + mirror.host)
        summary(pushed["images"])
        print("  mirror map: %s" % airgapped["mirror_images_mirror_map"])

        home = os.path.join(workdir, "consumer-home")
        play(runner, _consumer_play(workdir),
             {"home": home, "mirror_map_path": airgapped["mirror_images_mirror_map"], "mirror": mirror.host,
              "user": mirror.username, "password": mirror.password, "ca": str(mirror.ca_path)},
             "A consumer configured from the mirror map (registries_conf, registry_auth, CA)")
        dropin = os.path.join(home, ".config", "containers", "registries.conf.d", "999-airgap-mirror.conf")
        print(open(dropin).read())

        say("The vendor registry goes away; skopeo resolves a source reference by digest through the mirror")
        vendor.stop()
        entry = next(e for e in pushed["mirror_map"] if e["platforms"])
        source = "%s@%s" % (entry["source"].split("@")[0], entry["digest"])
        cmd = ["skopeo", "--debug", "inspect", "--raw", "--authfile", os.path.join(home, "auth.json"),
               "docker://" + source]
        print("  $ HOME=%s %s" % (home, " ".join(cmd)))
        proc = subprocess.run(cmd, capture_output=True, env=dict(os.environ, HOME=home), check=False)
        tried = [line.split("Trying to access", 1)[1].strip(' \\"') for line in proc.stderr.decode().splitlines()
                 if "Trying to access" in line]
        for line in tried:
            print("  skopeo: Trying to access %s" % line)
        got = "sha256:" + hashlib.sha256(proc.stdout).hexdigest()
        if proc.returncode != 0 or got != entry["digest"]:
            print(proc.stderr.decode()[-2000:], file=sys.stderr)
            raise SystemExit("demo: skopeo could not resolve %s through the mirror" % source)
        print("  resolved %s -> digest %s (identical), served by the mirror %s" % (source, got, mirror.host))

        vendor.start()
        say("Running both playbooks again: nothing changes")
        for playbook, extra in (("airgap.mirror.mirror_to_disk", connected), ("airgap.mirror.disk_to_mirror", airgapped)):
            res = runner.playbook(playbook, extra_vars=extra)
            changed = [r["task"] for r in res.changed]
            print("  %s: rc=%d, changed tasks: %s" % (playbook, res.rc, changed or "none"))
            if res.rc != 0 or changed:
                raise SystemExit("demo: the re-run of %s was not a no-op" % playbook)
        say("Done. Everything is in %s" % workdir)
    finally:
        vendor.stop()
        if args.keep:
            print("mirror registry left running: pid %s, %s" % (mirror.pid, mirror.host))
        else:
            mirror.stop()


def _consumer_play(workdir):
    path = os.path.join(workdir, "consumer.yml")
    with open(path, "w") as handle:
        handle.write(CONSUMER_PLAY)
    return path


if __name__ == "__main__":
    main()
