#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chart_mirror
short_description: Store Helm charts of a classic HTTP chart repository as OCI charts in an image layout
version_added: 1.0.0
description:
  - Reads the C(index.yaml) of a classic Helm chart repository, chooses chart versions by exact version or
    semver range, downloads each C(.tgz) (and its C(.prov) when the repository has one), verifies the package
    against the C(digest) the index gives, and stores it as a Helm OCI chart (config C(Chart.yaml) as JSON,
    media type C(application/vnd.cncf.helm.config.v1+json); the package as the
    C(application/vnd.cncf.helm.chart.content.v1.tar+gzip) layer; the provenance file as the
    C(application/vnd.cncf.helm.chart.provenance.v1.prov) layer) in an OCI image layout under
    C(HOST/PATH/NAME:VERSION) (C(+) in a version becomes C(_), as Helm does).
  - M(airgap.mirror.image_mirror) with C(src=oci:PATH) pushes the layout, charts and images alike, to the mirror,
    where C(helm pull oci://MIRROR/HOST/PATH/NAME --version VERSION) finds them. Charts already in an OCI registry
    need no module of their own - M(airgap.mirror.image_mirror) copies them unchanged (see C(docs/charts.md)).
  - The same package always gives the same manifest digest (nothing time-dependent is written).
  - Lists the images each chart deploys from its default C(values.yaml) (common patterns only; see RV(charts))
    in RV(images), usable as M(airgap.mirror.image_mirror)'s O(airgap.mirror.image_mirror#module:images), and what
    could not be derived in RV(unresolved).
extends_documentation_fragment:
  - airgap.mirror.registry
  - airgap.mirror.attributes
  - airgap.mirror.attributes.actiongroup_registry
attributes:
  check_mode:
    support: full
    details:
      - The index and the packages not yet in the layout are downloaded and verified, so RV(images) and the digests
        are those a real run gives; nothing is written.
  diff_mode:
    support: full
    details: The manifest digest of every chart reference before and after.
  idempotent:
    support: full
    details:
      - A chart whose layout entry already holds the package with the index's digest is not downloaded again;
        only C(index.yaml) is read.
options:
  repository:
    description:
      - The chart repository URL (the directory of its C(index.yaml), or the C(index.yaml) URL itself).
      - TLS and proxy settings are those of the registry options (O(ca_path), O(client_cert), proxies from the
        environment).
    type: str
    required: true
  charts:
    description:
      - The charts, each a name (the newest release version) or a dict with C(name) and C(version), an exact version
        or a semver range such as C(>=1.2.0 <2.0.0) (every matching version is stored).
    type: list
    elements: raw
    required: true
  dest:
    description:
      - The OCI image layout to store the charts in, as C(oci:PATH) (created when missing).
    type: str
    required: true
seealso:
  - module: airgap.mirror.image_mirror
author:
  - airgap.mirror contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Store the ECK operator chart next to the images
  airgap.mirror.chart_mirror:
    repository: https://helm.elastic.co
    charts:
      - name: eck-operator
        version: 2.16.1
    dest: oci:/srv/transfer/layout
  register: charts

- name: Mirror the images the chart deploys into the same layout
  airgap.mirror.image_mirror:
    images: "{{ charts.images }}"
    dest: oci:/srv/transfer/layout
"""

RETURN = r"""
charts:
  description:
    - One entry per chart version, with C(ref), C(name), C(version), C(url) (the package), C(status) (C(added),
      C(present), C(would_add)), C(digest) (the manifest digest), C(before), C(provenance) (a C(.prov) was stored),
      C(images) (each with C(path) in C(values.yaml), C(image) and C(tag_from) - C(tag), C(digest), C(reference),
      or C(appVersion) when the tag is empty and the chart's C(appVersion) is assumed) and C(unresolved).
  returned: always
  type: list
  elements: dict
refs:
  description: The chart references in the layout.
  returned: always
  type: list
  elements: str
images:
  description: The images the charts' default values name, each once.
  returned: always
  type: list
  elements: str
unresolved:
  description: Image settings of the values that could not be derived, each with C(chart), C(path) and C(reason).
  returned: always
  type: list
  elements: dict
layout:
  description: The layout's path.
  returned: always
  type: str
"""

from importlib.util import find_spec

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.airgap.mirror.plugins.module_utils._backends import chart_mirror as B


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
    module.exit_json(**result)


if __name__ == "__main__":
    main()
