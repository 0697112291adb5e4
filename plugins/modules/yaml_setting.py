#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: yaml_setting
short_description: Set or remove one key in an existing YAML file, keeping everything else as it is
version_added: 1.0.0
description:
  - Sets one key of a YAML settings file such as C(kibana.yml), C(elasticsearch.yml), the ECK
    operator's C(eck.yaml) or an installer's settings file, or removes it, by editing only the text
    of that key. Comments, key order, quoting and the formatting of every other line stay exactly as
    they were; no YAML round trip re-formats the file.
  - >-
    With O(dotted_keys=true) (the Elastic convention) a key written with dots in the file is a path,
    so O(key=xpack.fleet.registryUrl) is found whether the file writes it dotted
    (C(xpack.fleet.registryUrl: ...)), nested (C(xpack:) / C(fleet:) / C(registryUrl: ...)) or mixed.
    An existing key is changed where it is, in the form the file uses; every occurrence is changed.
  - A missing key is inserted under the deepest existing block mapping on its path, in the form that
    mapping uses (dotted keys there give a dotted key, otherwise nested), next to the keys that share
    the longest prefix with it. With nothing of its path in the file it is appended at the end, as a
    dotted key (O(dotted_keys=true)) or nested.
  - O(state=absent) removes the key's lines and the parents it leaves empty.
  - Before anything is written the new text is parsed again; it must be a single YAML document in
    which the key reads back as O(value) and every other setting reads exactly as before. Otherwise
    the module fails and the file is not touched.
  - Refused with a clear error (nothing written) are files with several YAML documents, a top level
    that is not a mapping, anchors, aliases or merge keys (C(<<)) on the edited path, inserting into
    or removing from flow mappings (C({...})), replacing a mapping of settings by a single value, and
    keys that collide with existing ones (setting C(a.b.c) where C(a.b) has a value).
  - The file is replaced atomically (temporary file in the same directory, fsync, rename), keeping
    its mode, owner and group unless the file attributes options say otherwise.
author:
  - airgap.mirror contributors (!UNKNOWN)
options:
  path:
    description:
      - The YAML file to edit. A symlink is followed; the link stays.
    type: path
    required: true
    aliases: [dest]
  key:
    description:
      - The key as a dotted path, for example V(xpack.fleet.registryUrl).
      - With O(dotted_keys=false) the dots only separate nesting levels; use O(key_path) when a key
        itself contains a dot.
      - Exactly one of O(key) and O(key_path) is required.
    type: str
  key_path:
    description:
      - The key as a list of segments, for example V([spec, install, imagesDigestsConfigMap]).
    type: list
    elements: str
  value:
    description:
      - The value to set, a string, number, boolean, or a list of those (written as a flow
        sequence C([a, b])). Mappings are not accepted; set their keys one by one.
      - Strings are written plain when that reads back as the same string, otherwise quoted; when an
        existing quoted string is replaced, its quoting style is kept.
      - Types matter, V("5601") and V(5601) are different values.
      - Required with O(state=present). A null value cannot be set (use O(state=absent)).
    type: raw
  state:
    description:
      - V(present) sets the key to O(value); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  dotted_keys:
    description:
      - Whether dots in the file's keys separate levels (Kibana, Elasticsearch and Beats settings).
      - Set V(false) for ordinary YAML where C(a.b) is a single key name.
    type: bool
    default: true
  insert_style:
    description:
      - How a missing key is written. V(auto) follows the file as described above; V(dotted) writes
        the remaining part of the path as one dotted key; V(nested) writes one level per line.
      - V(dotted) requires O(dotted_keys=true).
    type: str
    choices: [auto, dotted, nested]
    default: auto
  create:
    description:
      - Create the file (empty, then the key) when it does not exist. When V(false), a missing file is
        an error.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of the original file next to it before changing it.
    type: bool
    default: false
extends_documentation_fragment:
  - airgap.mirror.attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff is the text of the file before and after. Use C(no_log) or leave diff mode off when
        the file holds secrets.
  idempotent:
    support: full
    details:
      - Values are compared after parsing, so a value written differently (C('x') vs C(x)) is not
        rewritten.
  platform:
    platforms: posix
notes:
  - Values are parsed with the YAML 1.1 rules of PyYAML, which Kibana's YAML reader agrees with for
    the plain scalars this module writes (it quotes strings such as V(yes), V(on) or V(1.10)).
seealso:
  - module: ansible.builtin.lineinfile
    description: Line-based edits, without any knowledge of YAML.
"""

EXAMPLES = r"""
- name: Point Kibana at the self-hosted Elastic Package Registry (seed 002)
  airgap.mirror.yaml_setting:
    path: /etc/kibana/kibana.yml
    key: xpack.fleet.registryUrl
    value: "http://package-registry.corp.net:8080"
    backup: true

- name: Drop a proxy setting that is no longer needed
  airgap.mirror.yaml_setting:
    path: /etc/kibana/kibana.yml
    key: xpack.fleet.registryProxyUrl
    state: absent

- name: Record the images_digests override ConfigMap in an installer settings file (ordinary YAML)
  airgap.mirror.yaml_setting:
    path: ~/.element-enterprise-server/config/cluster.yml
    key_path: [spec, install, imagesDigestsConfigMap]
    value: ess-mirror-images
    dotted_keys: false
"""

RETURN = r"""
path:
  description: The file that was edited (the final target when O(path) is a symlink).
  returned: always
  type: str
  sample: /etc/kibana/kibana.yml
key:
  description: The key, as a dotted path.
  returned: always
  type: str
  sample: xpack.fleet.registryUrl
action:
  description:
    - V(set) (an existing key got the value), V(inserted) (the key was added), V(removed), or
      V(none) (already as requested).
  returned: always
  type: str
  sample: inserted
occurrences:
  description: How many times the key was present before the change.
  returned: always
  type: int
  sample: 1
backup_file:
  description: The backup copy of the original file.
  returned: when O(backup=true) and the file changed
  type: str
  sample: /etc/kibana/kibana.yml.12345.2026-11-21@10:00:00~
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.airgap.mirror.plugins.module_utils._backends import yaml_setting as _backend
from ansible_collections.airgap.mirror.plugins.module_utils._common import yamledit as _yamledit


def main() -> None:
    module = AnsibleModule(**_backend.module_kwargs())
    if not _yamledit.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=str(_yamledit.YAML_IMPORT_ERROR))
    module.exit_json(**_backend.run(module))


if __name__ == "__main__":
    main()
