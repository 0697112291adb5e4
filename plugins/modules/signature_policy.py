#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: signature_policy
short_description: Make a host's podman, skopeo and CRI-O require signatures for mirrored images
version_added: 1.1.0
description:
  - >-
    Merges C(transports.docker) scopes into a containers-policy.json(5) file, installs the public
    keys they name and writes a containers-registries.d(5) file that says where the signatures are
    (C(lookaside) for GPG simple signing, C(use-sigstore-attachments) for sigstore).
  - >-
    Each entry of O(signatures) gives a policy scope for its source prefix (C(signedBy) with
    C(keyType=GPGKeys), or C(sigstoreSigned)) and one for each mirror prefix of O(pairs) under it.
    containers/image evaluates the policy against the name that was asked for (the source name, also
    when the image comes from a registries.conf mirror), but looks signatures up under the
    repository it really reads (the mirror's): both scopes are written in both files.
    The mirror scope's C(signedIdentity) is C(remapIdentity) (mirror prefix to source prefix: the
    signatures name the source) unless the entry gives its own O(signatures[].signed_identity).
  - Other scopes of the policy are never touched. C(default) is changed only when O(default) says so.
  - >-
    Before it changes anything the module writes a record (O(record)) of the previous value of each
    scope it sets and of the files and directories it creates; O(state=absent) gives each scope back
    its previous value (removes it when there was none), removes the files and the directories it
    created (when empty), and the record.
author:
  - airgap.mirror contributors (!UNKNOWN)
options:
  signatures:
    description:
      - The requirements. Empty with O(state=present) removes the scopes of a former run.
    type: list
    elements: dict
    default: []
    suboptions:
      scope:
        description:
          - A source prefix, C(host[:port][/path]) (for example C(quay.io/openshift-release-dev)) or
            a C(*.domain) wildcard (no mirror scope then).
        type: str
        required: true
      kind:
        description:
          - V(gpg) (simple signing, in a lookaside store) or V(sigstore) (cosign attachments).
        type: str
        required: true
        choices: [gpg, sigstore]
      keys:
        description:
          - The public keys (armored OpenPGP keys for V(gpg), PEM public keys for V(sigstore)).
            Each is installed as O(keys_dir)/C(name), mode C(0644). One key gives C(keyPath),
            more give C(keyPaths) (containers/image 5.26 and later).
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: File name under O(keys_dir).
            type: str
            required: true
          content:
            description: The key's text.
            type: str
            required: true
      signed_identity:
        description:
          - >-
            The C(signedIdentity) of the requirement, as containers-policy.json(5) writes it
            (C({type: matchRepository})). Default C(matchRepoDigestOrExact) for V(gpg),
            C(matchRepository) for V(sigstore) (cosign signatures name only the repository).
        type: dict
      lookaside:
        description: Where this scope's GPG signatures are, when not O(lookaside).
        type: str
  pairs:
    description:
      - The mapping the host uses (registries.conf pairs C({source, mirror}), as
        M(airgap.mirror.registries_conf) takes them).
    type: list
    elements: dict
    default: []
    suboptions:
      source:
        description: The source prefix.
        type: str
        required: true
      mirror:
        description: The mirror prefix.
        type: str
        required: true
  lookaside:
    description:
      - The lookaside store of the GPG signatures, a C(file://), C(http://) or C(https://) URL
        (containers/image appends the repository path and C(@sha256=<hex>/signature-<n>)).
    type: str
  default:
    description:
      - V(leave) keeps the policy's C(default) as it is. V(reject) or V(insecureAcceptAnything)
        set it (and are needed to create a missing policy file).
    type: str
    choices: [leave, reject, insecureAcceptAnything]
    default: leave
  policy:
    description: The policy file.
    type: path
    default: /etc/containers/policy.json
  registries_d:
    description:
      - The registries.d file the module owns (it refuses to overwrite a file it did not write).
      - No other file of the directory may name the same scopes (containers/image would refuse
        every pull); the module checks it.
    type: path
    default: /etc/containers/registries.d/airgap-mirror.yaml
  keys_dir:
    description: Where the public keys are installed.
    type: path
    default: /etc/containers/keys
  record:
    description: The record of what the module changed (mode C(0600)).
    type: path
    default: /var/lib/airgap-mirror/signature_policy-airgap-mirror.json
  state:
    description: V(absent) gives back what V(present) changed.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - airgap.mirror.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - One diff per file (the record, the policy, each key, the registries.d file).
  idempotent:
    support: full
    details:
      - The policy is compared as a document, not as text.
  platform:
    platforms: posix
seealso:
  - name: containers-policy.json(5)
    description: The signature policy.
    link: https://github.com/containers/image/blob/main/docs/containers-policy.json.5.md
  - name: containers-registries.d(5)
    description: Where signatures are.
    link: https://github.com/containers/image/blob/main/docs/containers-registries.d.5.md
"""

EXAMPLES = r"""
- name: Require the vendor's GPG signatures for quay.io/vendor, served by the mirror's web server
  airgap.mirror.signature_policy:
    signatures:
      - scope: quay.io/vendor
        kind: gpg
        keys:
          - name: vendor.gpg
            content: "{{ lookup('ansible.builtin.file', 'files/vendor.gpg') }}"
    pairs:
      - {source: quay.io/vendor, mirror: "mirror.example.com:8443/vendor"}
    lookaside: https://mirror.example.com/sigstore

- name: Remove it again
  airgap.mirror.signature_policy:
    state: absent
"""

RETURN = r"""
policy:
  description: The policy file.
  returned: always
  type: str
  sample: /etc/containers/policy.json
registries_d:
  description: The registries.d file.
  returned: always
  type: str
  sample: /etc/containers/registries.d/airgap-mirror.yaml
scopes:
  description: The policy scopes managed (with O(state=absent), those given back).
  returned: always
  type: list
  elements: str
  sample: [quay.io/vendor, mirror.example.com:8443/vendor]
keys:
  description: The key files.
  returned: always
  type: list
  elements: str
  sample: [/etc/containers/keys/vendor.gpg]
created:
  description: Files this run created (in check mode, would create).
  returned: always
  type: list
  elements: str
  sample: [/etc/containers/keys/vendor.gpg]
removed:
  description: Files and directories this run removed (in check mode, would remove).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.mirror.plugins.module_utils._backends import signature_policy as _backend
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import signature_host as _host


def main() -> None:
    module = AnsibleModule(**_backend.module_kwargs())
    try:
        result = _host.run(module.params, module.check_mode, module.warn)
    except UserError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="%s: %s" % (exc.filename or module.params["policy"], exc.strerror or exc))
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
