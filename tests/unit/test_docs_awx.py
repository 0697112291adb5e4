# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/awx.md says only what the tree has: its YAML snippets parse, and every name it uses -
``airgap.mirror.<name>``, role variables, playbook variables, image_mirror options - exists."""

from __future__ import annotations

import ast
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "awx.md")

YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
FQCN = re.compile(r"\bairgap\.mirror\.([a-z0-9_]+)")
PLAYBOOK_VAR = re.compile(r"(?<![A-Za-z0-9_.])(airgap_mirror_[a-z0-9_]+)")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def doc():
    return read("docs", "awx.md")


@pytest.fixture(scope="module")
def blocks(doc):
    found = YAML_BLOCK.findall(doc)
    assert len(found) >= 8, f"docs/awx.md has {len(found)} ```yaml blocks; the guide's snippets went missing"
    return found


def role_options(role):
    """Every option of every entry point of roles/<role>/meta/argument_specs.yml."""
    specs = yaml.safe_load(read("roles", role, "meta", "argument_specs.yml"))["argument_specs"]
    return {name for entry in specs.values() for name in (entry.get("options") or {})}


def fragment_options(ref):
    """Options of doc fragment ``airgap.mirror.<file>[.<section>]``."""
    parts = ref.split(".")[2:]
    path = os.path.join(ROOT, "plugins", "doc_fragments", parts[0] + ".py")
    attr = parts[1].upper() if len(parts) > 1 else "DOCUMENTATION"
    tree = ast.parse(read(path), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in node.targets):
            return set((yaml.safe_load(ast.literal_eval(node.value)) or {}).get("options") or {})
    raise AssertionError(f"{ref}: no {attr} in {os.path.relpath(path, ROOT)}")


def module_options(name):
    """The options of plugins/modules/<name>.py, its doc fragments' included."""
    path = os.path.join(ROOT, "plugins", "modules", name + ".py")
    tree = ast.parse(read(path), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets):
            documentation = yaml.safe_load(ast.literal_eval(node.value))
            break
    else:
        raise AssertionError(f"plugins/modules/{name}.py has no DOCUMENTATION")
    options = set(documentation.get("options") or {})
    for ref in documentation.get("extends_documentation_fragment") or []:
        if ref.startswith("airgap.mirror."):
            options |= fragment_options(ref)
    return options


def action_groups():
    return (yaml.safe_load(read("meta", "runtime.yml")) or {}).get("action_groups") or {}


def resolves(name):
    """Where ``airgap.mirror.<name>`` lives, or None."""
    candidates = [
        ("playbooks", name + ".yml"), ("plugins", "modules", name + ".py"), ("roles", name, "meta"),
        ("plugins", "lookup", name + ".py"), ("plugins", "filter", name + ".yml"),
        ("plugins", "doc_fragments", name + ".py"),
    ]
    for parts in candidates:
        if os.path.exists(os.path.join(ROOT, *parts)):
            return os.path.join(*parts)
    if name in action_groups():
        return "meta/runtime.yml action_groups." + name
    return None


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_every_yaml_block_parses(blocks):
    problems = []
    for number, text in enumerate(blocks, 1):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problems.append(f"```yaml block {number} of docs/awx.md does not parse: {exc}\n{text}")
            continue
        if data is None:
            problems.append(f"```yaml block {number} of docs/awx.md is empty")
    assert not problems, "\n".join(problems)


def test_every_airgap_mirror_name_resolves(doc):
    names = set(FQCN.findall(doc))
    assert {"mirror", "configure_hosts", "image_mirror", "registry"} <= names, "the guide lost its core references"
    missing = sorted(n for n in names if resolves(n) is None)
    assert not missing, ("docs/awx.md names airgap.mirror." + ", airgap.mirror.".join(missing)
                         + " - no playbook, module, role, plugin or action group of that name")


def test_role_variables_are_role_options(doc):
    """mirror_images_* (and every other role's prefix) must be an option of that role."""
    roles = sorted(d for d in os.listdir(os.path.join(ROOT, "roles"))
                   if os.path.exists(os.path.join(ROOT, "roles", d, "meta", "argument_specs.yml")))
    assert "mirror_images" in roles
    problems = []
    checked = 0
    for role in roles:
        known = role_options(role)
        for var in sorted(set(re.findall(rf"(?<![A-Za-z0-9_.]){role}_[a-z0-9_]+", doc))):
            checked += 1
            if var not in known:
                problems.append(f"{var} is not an option of roles/{role}/meta/argument_specs.yml")
    assert checked >= 10, "the guide names hardly any role variable; the pattern is broken"
    assert not problems, "\n".join(problems)


def test_playbook_variables_exist(doc):
    used = set(PLAYBOOK_VAR.findall(doc))
    assert "airgap_mirror_hosts" in used
    playbooks = "\n".join(read("playbooks", f) for f in os.listdir(os.path.join(ROOT, "playbooks")) if f.endswith(".yml"))
    missing = sorted(v for v in used if v not in playbooks)
    assert not missing, f"docs/awx.md uses {missing}, which no playbook under playbooks/ reads"


def test_module_arguments_and_module_defaults_are_options(blocks):
    groups = action_groups()
    problems = []
    tasks = 0
    for data in (yaml.safe_load(text) for text in blocks):
        for mapping in walk(data):
            for key, value in mapping.items():
                if isinstance(key, str) and key.startswith("airgap.mirror.") and isinstance(value, dict):
                    name = key.split(".", 2)[2]
                    tasks += 1
                    unknown = set(value) - module_options(name)
                    if unknown:
                        problems.append(f"{key}: {sorted(unknown)} are not options of plugins/modules/{name}.py")
                if key == "module_defaults":
                    for group, defaults in value.items():
                        tasks += 1
                        short = group.removeprefix("group/airgap.mirror.")
                        if not group.startswith("group/airgap.mirror.") or short not in groups:
                            problems.append(f"module_defaults {group}: not an action group of meta/runtime.yml")
                            continue
                        allowed = set.intersection(*(module_options(m) for m in groups[short]))
                        unknown = set(defaults) - allowed
                        if unknown:
                            problems.append(f"module_defaults {group}: {sorted(unknown)} are not options of every "
                                            f"module of the group ({groups[short]})")
    assert tasks >= 2, "no image_mirror task or module_defaults left in the guide's YAML"
    assert not problems, "\n".join(problems)
