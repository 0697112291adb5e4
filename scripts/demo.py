"""The airgap.mirror demo (run it with scripts/demo, which installs what it needs first).

On loopback, with real parts only:
  1. a plain "vendor" registry and a TLS + htpasswd mirror registry (Debian's docker-registry);
  2. a small deterministic multi-arch sample image set, pushed to the vendor registry with skopeo;
  3. airgap.mirror.image_mirror (through ansible-playbook): vendor registry -> OCI layout on disk,
     then OCI layout -> TLS mirror with authentication, writing the mirror map;
  4. a per-image summary, and skopeo pulling a mirrored image by digest from the mirror.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.ansible_run import AnsibleRunner  # noqa: E402
from support.images import sample_set  # noqa: E402
from support.pki import PKI  # noqa: E402
from support.registry import Registry  # noqa: E402


def say(text):
    print("\n\033[1m==> %s\033[0m" % text, flush=True)


def collections_path(workdir):
    base = os.path.join(workdir, "collections")
    os.makedirs(os.path.join(base, "ansible_collections", "airgap"), exist_ok=True)
    link = os.path.join(base, "ansible_collections", "airgap", "mirror")
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return base


def run_play(runner, name, text, extra_vars):
    path = os.path.join(runner.workdir, name + ".yml")
    with open(path, "w") as handle:
        handle.write(textwrap.dedent(text))
    result = runner.playbook(path, extra_vars=extra_vars)
    print(result.stdout)
    if result.rc != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit("demo: %s failed (rc=%d)" % (name, result.rc))
    return result


def summary(images):
    rows = [("IMAGE", "STATUS", "DIGEST", "PLATFORMS", "BYTES", "SECONDS")]
    for img in images:
        rows.append((img["source"], img["status"], img["digest"][:19] + "…", ",".join(img["platforms"]) or "-",
                     str(img["bytes"]), "%.3f" % img["seconds"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)))


TO_DISK = """\
- name: Connected side - mirror the vendor images to an OCI layout on disk
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror to disk
      airgap.mirror.image_mirror:
        images: "{{ images }}"
        dest: "oci:{{ layout }}"
        insecure_registries: ["{{ vendor }}"]
        mirror_map: "{{ workdir }}/disk-map.yml"
"""

TO_MIRROR = """\
- name: Air-gapped side - push the layout into the TLS mirror with authentication
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror from disk
      airgap.mirror.image_mirror:
        src: "oci:{{ layout }}"
        images: [all]
        dest: "{{ mirror }}"
        dest_username: "{{ user }}"
        dest_password: "{{ password }}"
        ca_path: "{{ ca }}"
        mirror_map: "{{ workdir }}/mirror-map.yml"
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the registries running")
    parser.add_argument("--workdir", help="where to put everything (default: a new temporary directory)")
    args = parser.parse_args()
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="airgap-demo-"))
    os.makedirs(workdir, exist_ok=True)
    os.environ["AIRGAP_COLLECTIONS_PATH"] = collections_path(workdir)
    for tool in ("docker-registry", "skopeo", "htpasswd", "openssl"):
        if shutil.which(tool) is None:
            raise SystemExit("demo: %s is missing; run scripts/bootstrap" % tool)

    say("Starting two registries on loopback (in %s)" % workdir)
    pki = PKI(os.path.join(workdir, "pki"))
    vendor = Registry(os.path.join(workdir, "vendor-registry")).start()
    mirror = Registry(os.path.join(workdir, "mirror-registry"), tls=True, auth=True, pki=pki,
                      username="mirror", password="demo-" + os.urandom(6).hex()).start()
    print("  vendor registry (plain HTTP):        %s" % vendor.host)
    print("  mirror registry (TLS + htpasswd):    %s  CA %s" % (mirror.host, mirror.ca_path))
    try:
        say("Building the sample image set and pushing it to the vendor registry with skopeo")
        samples = sample_set(os.path.join(workdir, "samples"))
        pushed = samples.seed(vendor)
        for ref, target in pushed.items():
            print("  %-12s %s  %s" % (ref, target, samples[ref].digest))

        runner = AnsibleRunner(os.path.join(workdir, "ansible"))
        common = {"workdir": workdir, "layout": os.path.join(workdir, "layout")}
        say("ansible-playbook: vendor registry -> OCI layout (%s)" % common["layout"])
        res = run_play(runner, "to-disk", TO_DISK, dict(common, images=sorted(pushed.values()), vendor=vendor.host))
        disk = res.one("Mirror to disk")["result"]
        summary(disk["images"])
        print("  unique bytes %(unique_bytes)d, blobs %(unique_blobs)d, %(seconds).3fs" % disk["totals"])

        say("ansible-playbook: OCI layout -> %s (TLS, htpasswd)" % mirror.host)
        mirror_vars = dict(common, mirror=mirror.host, user=mirror.username, password=mirror.password,
                           ca=str(mirror.ca_path))
        res = run_play(runner, "to-mirror", TO_MIRROR, mirror_vars)
        pushed_report = res.one("Mirror from disk")["result"]
        summary(pushed_report["images"])
        print("  mirror map: %s" % os.path.join(workdir, "mirror-map.yml"))

        say("Running the mirror job again: nothing to do")
        res = run_play(runner, "to-mirror-again", TO_MIRROR, mirror_vars)
        again = res.one("Mirror from disk")
        print("  changed=%s, %d requests" % (again["changed"], again["result"]["totals"]["requests"]))

        entry = next(e for e in pushed_report["mirror_map"] if e["platforms"])
        target = "%s@%s" % (entry["destination"].rsplit(":", 1)[0], entry["digest"])
        say("skopeo pulls %s from the mirror by digest" % target)
        auth = mirror.auth_file(os.path.join(workdir, "mirror-auth.json"))
        out = os.path.join(workdir, "pulled")
        cmd = ["skopeo", "copy", "--all", "--preserve-digests", "--src-cert-dir", str(mirror.cert_dir()),
               "--src-authfile", str(auth), "docker://" + target, "oci:%s:pulled" % out]
        print("  $ " + " ".join(cmd))
        subprocess.run(cmd, check=True)
        digest = subprocess.run(["skopeo", "inspect", "--raw", "oci:%s:pulled" % out], check=True,
                                capture_output=True).stdout
        import hashlib
        got = "sha256:" + hashlib.sha256(digest).hexdigest()
        print("  pulled %s, digest %s (%s)" % (entry["source"], got, "identical" if got == entry["digest"] else "DIFFERENT"))
        if got != entry["digest"]:
            raise SystemExit("demo: digest mismatch")
        say("Done. Everything is in %s" % workdir)
    finally:
        if args.keep:
            print("registries left running: pids %s %s" % (vendor.pid, mirror.pid))
        else:
            vendor.stop()
            mirror.stop()


if __name__ == "__main__":
    main()
