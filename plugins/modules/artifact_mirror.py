#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: artifact_mirror
short_description: Carry plain files (agent tarballs, checksums, signatures) across the air gap with the images
version_added: 1.1.0
description:
  - With O(state=present), downloads files over HTTPS (or HTTP), verifies each against its published checksum
    (a C(.sha512) or C(.sha256) file next to it, a C(SHA256SUMS)-style list, or a pinned value) and, with
    O(signature_keys), its detached OpenPGP signature (C(.asc)), and stores it in an OCI image layout - the one
    M(airgap.mirror.image_mirror) writes - as an OCI artifact (C(artifactType)
    C(application/vnd.io.github.airgap-mirror.file.v1)) with one layer each for the file, its checksum file and its
    signature. So one layout, one bundle (M(airgap.mirror.transfer_bundle)) and one mirror registry carry images
    and files.
  - A file C(https://HOST/DIR/NAME) gets the reference C(HOST/files/DIR:NAME) (one repository per directory, the
    file name as tag; names that are not valid tags are cleaned and get a hash suffix; C(DIR) and C(NAME) come from
    the file's C(path) when it has one). The original URL and path are annotations of the artifact. RV(refs) lists them for M(airgap.mirror.image_mirror) and
    M(airgap.mirror.transfer_bundle).
  - A download is written to the layout's temporary area and resumed with HTTP C(Range) after a dropped connection
    or a killed run; it is renamed into the layout, and the layout's C(index.json) names it, only after its
    checksum (and signature) were verified. Every file is attempted; the task fails at the end listing each file
    that failed (missing checksum file, wrong checksum, bad signature, HTTP errors).
  - With O(state=exported), writes the stored files back as plain files, in their download layout (the file, its
    checksum file and its C(.asc) side by side under the path the artifact records), from a layout or from a
    registry the artifacts were pushed to, so a web server can serve the tree as it is.
  - Connection options (O(ca_path), O(client_cert), O(client_key), O(insecure_registries) by host, O(timeout),
    O(retries), O(deadline)) are those of the registry clients; proxies come from the environment
    (C(HTTPS_PROXY), C(NO_PROXY)). Needs the C(httpx) Python library, and C(gpgv) with O(signature_keys).
extends_documentation_fragment:
  - airgap.mirror.registry
  - airgap.mirror.registry.source
  - airgap.mirror.attributes
  - airgap.mirror.attributes.actiongroup_registry
attributes:
  check_mode:
    support: full
    details:
      - With O(state=present), checksum files are read (GET) and compared with the layout; nothing is downloaded
        or written. With O(state=exported), manifests are read and the directory compared; nothing is written.
  diff_mode:
    support: full
    details: The artifact digest of every reference before and after, or the files an export writes.
  idempotent:
    support: full
    details:
      - A file whose checksum the layout already records (and whose signer, with O(signature_keys), is one of the
        keys) is not downloaded again; only its checksum file is read (nothing at all with a pinned checksum).
options:
  state:
    description:
      - V(present) downloads O(files) into the layout O(dest).
      - V(exported) writes the stored files of O(src) into the directory O(dest).
    type: str
    choices: [present, exported]
    default: present
  files:
    description:
      - With O(state=present), the files to mirror. A string is the file's URL. A dict has C(url) and optionally
        C(checksum) (as O(checksum), for this file), C(signature) (V(true)/V(false), or the URL of the detached
        signature; default C(URL.asc) when O(signature_keys) is given) and C(path) (the relative path the file is
        exported to; default the URL's path, for example C(downloads/beats/elastic-agent/NAME)).
      - With O(state=exported), the references of stored files to export (default every file of an O(src)
        layout). For a layout, the ref names (RV(refs)); for a registry, C(REPOSITORY:TAG) under O(src), for
        example C(files/downloads/beats/elastic-agent:elastic-agent-9.1.0-linux-x86_64.tar.gz).
    type: list
    elements: raw
    default: []
  dest:
    description:
      - With O(state=present), C(oci:PATH), the OCI image layout (created when missing; images may share it).
      - With O(state=exported), C(dir:PATH), the directory the files are written into (created when missing).
    type: str
    required: true
  src:
    description:
      - With O(state=exported), where the stored files are read from - C(oci:PATH) (a layout) or a registry
        C(HOST[:PORT][/NAMESPACE]) to which M(airgap.mirror.image_mirror) pushed them.
    type: str
  mirror_map:
    description:
      - With O(state=exported) from a registry, a mirror map written by M(airgap.mirror.image_mirror); every entry
        whose source is a file reference (C(HOST/files/...)) and whose destination is a registry is exported too.
    type: path
  checksum:
    description:
      - Where the checksum of each file comes from, unless the file's own C(checksum) says otherwise.
      - V(sha512) or V(sha256) - the file C(URL.sha512) / C(URL.sha256) (C(sha512sum) output, or a bare digest).
      - C(file:URL) - a checksum file elsewhere; C(list:URL) - a C(SHA256SUMS)-style list (GNU or BSD lines, the
        algorithm from the length of the digest) with a line for the file's name or its path relative to the list.
      - C(sha256:HEX) or C(sha512:HEX) - a pinned value (per file); no request is made for it. C(md5:HEX) is accepted as
        a pinned value only, for sources that publish nothing stronger (the GeoIP overview, see filter
        C(airgap.mirror.elasticsearch_geoip_files)); an md5 detects corruption, not a forger.
      - A checksum file that is missing fails that file, naming its URL.
    type: str
    default: sha512
  signature_keys:
    description:
      - OpenPGP public keys (armored or binary files). When given, every file's detached signature (C(URL.asc)
        unless the file says otherwise) must verify with one of them (C(gpgv)), or the file fails.
    type: list
    elements: path
    default: []
  concurrency:
    description:
      - Files downloaded at once.
    type: int
    default: 4
notes:
  - The artifacts are copied to a registry by M(airgap.mirror.image_mirror) like any image (C(src=oci:PATH),
    the RV(refs) or V(all)); Debian's C(docker-registry) (distribution 2.8) accepts them (docs/artifacts.md).
seealso:
  - module: airgap.mirror.image_mirror
  - module: airgap.mirror.transfer_bundle
author:
  - airgap.mirror contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Download Elastic Agent with its checksum and signature into the layout of the images
  airgap.mirror.artifact_mirror:
    dest: oci:/srv/airgap/layout
    signature_keys: [/etc/airgap/elastic.asc]
    files:
      - https://artifacts.elastic.co/downloads/beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz
      - url: https://example.com/tools/tool-1.0.tar.gz
        checksum: list:https://example.com/tools/SHA256SUMS
        signature: false
  register: files

- name: On the air-gapped side, write the files from the mirror registry into the web server's tree
  airgap.mirror.artifact_mirror:
    state: exported
    src: mirror.example.com:5000
    files:
      - files/downloads/beats/elastic-agent:elastic-agent-9.1.0-linux-x86_64.tar.gz
    dest: dir:/srv/www/artifacts
    ca_path: /etc/pki/mirror-ca.crt
"""

RETURN = r"""
files:
  description: One entry per file, in the order of O(files).
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The file's URL (O(state=present)).
      type: str
      returned: O(state=present)
    ref:
      description: The reference of the stored file.
      type: str
      returned: always
    path:
      description: The relative path the file is exported to.
      type: str
      returned: when known
    status:
      description:
        - With O(state=present), V(downloaded), V(present), V(would_download) or V(failed).
        - With O(state=exported), V(written), V(unchanged), V(would_write) or V(failed).
      type: str
      returned: always
    digest:
      description: The artifact's manifest digest in the layout.
      type: str
      returned: O(state=present), when stored
    checksum:
      description: The verified checksum, C(ALGORITHM:HEX).
      type: str
      returned: O(state=present), when known
    signer:
      description: The primary fingerprint of the key whose signature verified.
      type: str
      returned: O(state=present), with O(signature_keys)
    fetched:
      description: Bytes of the file downloaded by this run.
      type: int
      returned: O(state=present)
    resumed_from:
      description: The byte at which this run continued an earlier partial download (0 when it did not).
      type: int
      returned: O(state=present)
    files:
      description: The relative paths of the artifact's files (file, checksum file, signature).
      type: list
      elements: str
      returned: O(state=exported)
    changed_files:
      description: The relative paths written (or that would be written in check mode).
      type: list
      elements: str
      returned: O(state=exported)
    error:
      description: Why the file failed.
      type: str
      returned: when failed
refs:
  description: The references of the files stored (or present) in the layout, for image_mirror and transfer_bundle.
  returned: O(state=present)
  type: list
  elements: str
bytes_downloaded:
  description: Bytes downloaded by this run.
  returned: O(state=present)
  type: int
layout:
  description: The layout's path.
  returned: O(state=present)
  type: str
directory:
  description: The directory written.
  returned: O(state=exported)
  type: str
"""

from importlib.util import find_spec

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.airgap.mirror.plugins.module_utils._backends import artifact_mirror as B


def main() -> None:
    module = AnsibleModule(**B.argument_spec())
    if find_spec("httpx") is None:
        module.fail_json(msg=missing_required_lib("httpx"), exception="No module named 'httpx'")
    try:
        result = B.run(module.params, module.check_mode)
    except Exception as exc:  # the one place a library error becomes a task failure
        module.fail_json(**B.failure(exc))
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
