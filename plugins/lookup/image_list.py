# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: image_list
author: airgap.mirror contributors (!UNKNOWN)
version_added: 1.0.0
short_description: Read image lists from vendor files on the controller
description:
  - Reads one or more files on the controller and returns their image references, normalized and
    deduplicated across all files, in file order.
  - The files are found like P(ansible.builtin.file#lookup) finds them (the C(files) search path of
    the role or play). Errors name the file, the line and the entry.
  - The same readers are available as filters for data that is not in a controller file (for
    instance read from a host with M(ansible.builtin.slurp)) - P(airgap.mirror.microshift_release_images#filter),
    P(airgap.mirror.ess_images#filter), P(airgap.mirror.skopeo_sync_images#filter),
    P(airgap.mirror.parse_image_list#filter), P(airgap.mirror.query_images#filter).
options:
  _terms:
    description: Paths of the files to read.
    type: list
    elements: path
    required: true
  format:
    description:
      - The format of the files.
      - V(microshift) - MicroShift C(release-<arch>.json) (every value of C(.images)).
      - V(ess) - the ESS installer's C(images_digests.yml).
      - V(skopeo_sync) - a C(skopeo sync --src yaml) file; its tag selections (C(images-by-tag-regex),
        C(images-by-semver), an empty tag list) are dictionaries C({src, tags}) for M(airgap.mirror.image_mirror)
        (see P(airgap.mirror.skopeo_sync_images#filter)).
      - V(list) - one reference per line, C(#) comments, blank lines; or a YAML list.
      - V(query) - any JSON or YAML document, with the JMESPath O(query).
    type: str
    required: true
    choices: [microshift, ess, skopeo_sync, list, query]
  query:
    description: The JMESPath expression for O(format=query); its result must be a list of strings.
    type: str
  records:
    description:
      - For O(format=microshift) and O(format=ess), return one record per entry (see the filters
        P(airgap.mirror.microshift_release_images#filter) and P(airgap.mirror.ess_images#filter))
        instead of deduplicated reference strings.
    type: bool
    default: false
  default_tag:
    description:
      - Tag given to a reference that has neither tag nor digest (formats V(list) and V(query)).
        Empty keeps it bare.
    type: str
    default: latest
notes:
  - Use C(query()) (or C(lookup(..., wantlist=true))) to get a list; C(lookup()) joins the
    references with commas.
"""

EXAMPLES = r"""
- name: Images of the MicroShift release of two architectures
  ansible.builtin.set_fact:
    microshift_images: "{{ query('airgap.mirror.image_list', 'release-x86_64.json', 'release-aarch64.json', format='microshift') }}"

- name: ESS entries with their component and container
  ansible.builtin.set_fact:
    ess_records: "{{ query('airgap.mirror.image_list', 'images_digests.yml', format='ess', records=true) }}"

- name: A vendor manifest in another format
  ansible.builtin.set_fact:
    vendor_images: "{{ query('airgap.mirror.image_list', 'vendor.json', format='query', query='components[].image') }}"

- name: A plain reference file
  ansible.builtin.set_fact:
    extra_images: "{{ query('airgap.mirror.image_list', 'microshift-container-refs.txt', format='list') }}"
"""

RETURN = r"""
_raw:
  description:
    - Normalized image references, deduplicated across the files, in file order.
    - For O(format=skopeo_sync), also tag selections - dictionaries C({src, tags}) that
      M(airgap.mirror.image_mirror) takes in O(airgap.mirror.image_mirror#module:images).
    - With O(records=true), one dictionary per entry, from all files.
  type: list
  elements: raw
"""

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.airgap.mirror.plugins.module_utils._sources import read as _sources
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


@reported(error=AnsibleLookupError, name="airgap.mirror.image_list")
def _read(fmt: str, raw: bytes, path: str, query: str | None, records: bool, default_tag: str | None) -> list[Any]:
    return _sources.read_source(fmt, raw, name=path, query=query, records=records, default_tag=default_tag)


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        self.set_options(var_options=variables, direct=kwargs)
        fmt = self.get_option("format")
        query = self.get_option("query")
        records = self.get_option("records")
        default_tag = self.get_option("default_tag")
        if fmt == "query" and not query:
            raise AnsibleLookupError("airgap.mirror.image_list: format=query needs the query option")
        if query and fmt != "query":
            raise AnsibleLookupError("airgap.mirror.image_list: the query option is only used with format=query")

        results: list[Any] = []
        for term in terms:
            path = self.find_file_in_search_path(variables or {}, "files", term, ignore_missing=True)
            if not path:
                raise AnsibleLookupError("airgap.mirror.image_list: could not find file %r in the search path" % term)
            try:
                with open(path, "rb") as handle:
                    raw = handle.read()
            except OSError as exc:
                raise AnsibleLookupError("airgap.mirror.image_list: %s: cannot read: %s" % (path, exc.strerror)) from None
            results.extend(_read(fmt, raw, path, query, records, default_tag))
        if records:
            return results
        # references are strings; tag selections of skopeo sync files are dictionaries
        unique: list[Any] = []
        for item in results:
            if item not in unique:
                unique.append(item)
        return unique
