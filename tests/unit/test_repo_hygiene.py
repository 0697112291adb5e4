# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast checks of house rules that no linter enforces (docs/development.md).

Each check reads the tree as it is and lists every offending file, so one run shows all of them.
"""

from __future__ import annotations

import ast
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = os.path.join(ROOT, "plugins", "modules")
REGISTRY_OPTIONS_FRAGMENT = "airgap.mirror.registry"
REGISTRY_GROUP_FRAGMENT = "airgap.mirror.attributes.actiongroup_registry"
LICENSE_MARKERS = ("GPL-3.0-or-later", "GNU General Public License v3.0+")


def python_files(top):
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
    return found


def rel(path):
    return os.path.relpath(path, ROOT)


def module_names():
    return sorted(f[:-3] for f in os.listdir(MODULES) if f.endswith(".py") and f != "__init__.py") if os.path.isdir(MODULES) else []


def module_documentation(name):
    """The parsed DOCUMENTATION of plugins/modules/<name>.py (a clear failure if it is missing or broken)."""
    path = os.path.join(MODULES, name + ".py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets):
            try:
                return yaml.safe_load(ast.literal_eval(node.value)) or {}
            except (ValueError, yaml.YAMLError) as exc:
                pytest.fail(f"{rel(path)}: DOCUMENTATION is not valid YAML: {exc}")
    pytest.fail(f"{rel(path)}: no DOCUMENTATION")
    return None  # not reached


def runtime_registry_group():
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as f:
        runtime = yaml.safe_load(f) or {}
    return runtime.get("action_groups", {}).get("registry", [])


# The architecture of plugins/module_utils/ (docs/development.md): each package may import only
# the packages listed here, so dependencies run one way, from the edge (modules, filters) down to
# the shared helpers. _backends is the edge of module_utils: what one module needs beyond the
# library (its argument spec, the request built from its parameters).
LAYERS = {
    "_common": set(),
    "_oci": {"_common"},
    "_mirrormap": {"_oci", "_common"},
    "_engine": {"_trust", "_mirrormap", "_oci", "_common"},
    "_inventory": {"_trust", "_engine", "_mirrormap", "_oci", "_common"},
    "_bundle": {"_inventory", "_trust", "_engine", "_mirrormap", "_oci", "_common"},
    "_artifacts": {"_trust", "_engine", "_mirrormap", "_oci", "_common"},
    "_consumers": {"_trust", "_mirrormap", "_oci", "_common"},
    "_products": {"_consumers", "_mirrormap", "_oci", "_common"},
    "_sources": {"_oci", "_common"},
    "_trust": {"_oci", "_common"},
    "_charts": {"_engine", "_oci", "_common"},
    "_prune": {"_inventory", "_sources", "_products", "_consumers", "_trust", "_engine", "_mirrormap", "_oci",
               "_common"},
    "_backends": {"_artifacts", "_charts", "_prune", "_inventory", "_trust", "_sources", "_products", "_consumers",
                  "_bundle", "_engine", "_mirrormap", "_oci", "_common"},
}
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")


def _package_of(path):
    return os.path.relpath(path, MODULE_UTILS).split(os.sep)[0]


def _imported_packages(path, node):
    """The module_utils packages an import statement of *path* reaches."""
    if isinstance(node, ast.ImportFrom) and node.level:
        parts = os.path.relpath(path, MODULE_UTILS).split(os.sep)[:-1]
        base = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
        if node.level - 1 > len(parts):
            return ["<outside module_utils>"]
        target = base + (node.module.split(".") if node.module else [])
        if target:
            return [target[0]]
        return [alias.name.split(".")[0] for alias in node.names]
    names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
    prefix = "ansible_collections.airgap.mirror.plugins.module_utils."
    return [n[len(prefix):].split(".")[0] for n in names if n.startswith(prefix)]


def test_module_utils_packages_import_only_their_lower_layers_and_never_ansible():
    """The library runs without Ansible (unit tests, the benchmark, the demo), and its packages
    depend on each other one way only (LAYERS)."""
    assert os.path.isdir(MODULE_UTILS)
    problems = []
    packages = sorted(d for d in os.listdir(MODULE_UTILS) if os.path.isdir(os.path.join(MODULE_UTILS, d))
                      and d != "__pycache__")
    unknown = sorted(set(packages) - set(LAYERS))
    assert not unknown, f"packages without a place in LAYERS: {unknown}"
    loose = sorted(f for f in os.listdir(MODULE_UTILS) if f.endswith(".py") and f != "__init__.py")
    assert not loose, f"module_utils files outside a package: {loose}"
    for path in python_files(MODULE_UTILS):
        package = _package_of(path)
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if node.level == 0 if isinstance(node, ast.ImportFrom) else True:
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                if any(n.split(".")[0] == "ansible" for n in names):
                    problems.append(f"{rel(path)}:{node.lineno}: imports Ansible ({', '.join(names)})")
            for target in _imported_packages(path, node):
                if target != package and target not in LAYERS.get(package, set()):
                    problems.append(f"{rel(path)}:{node.lineno}: {package} may not import {target}")
    assert not problems, "module_utils layering:\n" + "\n".join(problems)


def test_registry_action_group_matches_the_modules():
    """meta/runtime.yml's registry group, the modules that document membership and the modules
    that take the shared registry options must all agree, or module_defaults silently misses a
    module (or documents a group it is not in)."""
    group = runtime_registry_group()
    problems = []
    duplicates = sorted({m for m in group if group.count(m) > 1})
    if duplicates:
        problems.append(f"meta/runtime.yml lists {duplicates} more than once in action_groups.registry")
    for name in group:
        if not os.path.exists(os.path.join(MODULES, name + ".py")):
            problems.append(f"meta/runtime.yml action_groups.registry lists {name}, but plugins/modules/{name}.py does not exist")
    for name in module_names():
        fragments = module_documentation(name).get("extends_documentation_fragment") or []
        if isinstance(fragments, str):
            fragments = [fragments]
        claims = REGISTRY_GROUP_FRAGMENT in fragments
        listed = name in group
        if claims and not listed:
            problems.append(f"plugins/modules/{name}.py documents membership of the registry group ({REGISTRY_GROUP_FRAGMENT}) "
                            "but meta/runtime.yml action_groups.registry does not list it")
        if listed and not claims:
            problems.append(f"plugins/modules/{name}.py is in meta/runtime.yml action_groups.registry but does not extend {REGISTRY_GROUP_FRAGMENT}")
        if REGISTRY_OPTIONS_FRAGMENT in fragments and not listed:
            problems.append(f"plugins/modules/{name}.py takes the registry options ({REGISTRY_OPTIONS_FRAGMENT}) "
                            "but is not in meta/runtime.yml action_groups.registry")
    assert not problems, "\n".join(problems)


def test_every_plugin_file_carries_the_license_header():
    problems = []
    for path in python_files(os.path.join(ROOT, "plugins")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.strip() and not any(marker in text[:2000] for marker in LICENSE_MARKERS):
            problems.append(rel(path))
    assert not problems, "missing the GPL-3.0-or-later header:\n" + "\n".join(problems)


def test_every_module_is_exercised_by_some_test():
    """A module nobody calls from tests/ is untested: look for its FQCN or its import path."""
    corpus = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "tests")):
        dirnames[:] = [d for d in dirnames if d not in ("output", "__pycache__")]
        for f in filenames:
            if f.endswith((".py", ".yml", ".yaml", ".json", ".j2")):
                with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                    corpus.append(fh.read())
    text = "\n".join(corpus)
    missing = [name for name in module_names()
               if not re.search(rf"airgap\.mirror\.{name}\b|plugins\.modules\.{name}\b|plugins/modules/{name}\.py", text)]
    assert not missing, "modules that no test under tests/ mentions: " + ", ".join(missing)


def test_roles_document_every_default_in_their_argument_specs():
    """Each role validates its input (meta/argument_specs.yml), and every variable in
    defaults/main.yml is an option there, so a new default cannot go undocumented."""
    roles_dir = os.path.join(ROOT, "roles")
    problems = []
    for role in sorted(os.listdir(roles_dir)) if os.path.isdir(roles_dir) else []:
        base = os.path.join(roles_dir, role)
        if not os.path.isdir(base):
            continue
        spec_path = os.path.join(base, "meta", "argument_specs.yml")
        if not os.path.exists(spec_path):
            problems.append(f"roles/{role}: no meta/argument_specs.yml")
            continue
        with open(spec_path, encoding="utf-8") as f:
            specs = (yaml.safe_load(f) or {}).get("argument_specs") or {}
        documented = set()
        for entry in specs.values():
            documented.update((entry or {}).get("options") or {})
        defaults_path = os.path.join(base, "defaults", "main.yml")
        if os.path.exists(defaults_path):
            with open(defaults_path, encoding="utf-8") as f:
                defaults = yaml.safe_load(f) or {}
            for var in sorted(set(defaults) - documented):
                problems.append(f"roles/{role}/defaults/main.yml: {var} is not an option in meta/argument_specs.yml")
    assert not problems, "\n".join(problems)


def test_sanity_ignore_files_are_empty():
    """The collection passes ansible-test sanity without ignores; fix the finding instead."""
    sanity_dir = os.path.join(ROOT, "tests", "sanity")
    problems = []
    for name in sorted(os.listdir(sanity_dir)):
        if name.startswith("ignore-") and name.endswith(".txt"):
            with open(os.path.join(sanity_dir, name), encoding="utf-8") as f:
                lines = [line for line in f.read().splitlines() if line.strip() and not line.lstrip().startswith("#")]
            problems.extend(f"tests/sanity/{name}: {line}" for line in lines)
    assert not problems, "sanity ignore entries:\n" + "\n".join(problems)


def test_mypy_checks_every_plugin_module():
    """Issue 13 item 6: every function under plugins/ is annotated and mypy passes on all of it;
    no module is exempted in mypy.ini."""
    with open(os.path.join(ROOT, "mypy.ini"), encoding="utf-8") as f:
        text = f.read()
    assert re.findall(r"^\[mypy-ansible_collections\.airgap\.[^\]]*\]", text, re.M) == []
    assert "disallow_untyped_defs = True" in text


MAX_CODE_LINES = 400


def code_lines(path):
    """Lines of a Python file that are neither blank, comments, nor documentation strings (module,
    class and function docstrings; DOCUMENTATION/EXAMPLES/RETURN of plugins are documentation too)."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    tree = ast.parse(source)
    doc_lines = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
        names = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if isinstance(node, ast.Assign) and set(names) & {"DOCUMENTATION", "EXAMPLES", "RETURN"}:
            doc_lines.update(range(node.lineno, node.end_lineno + 1))
    return sum(1 for number, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and number not in doc_lines)


def test_no_plugin_file_is_over_400_lines_of_code():
    """Issue 13: no Python file under plugins/ over about 400 lines of code, so each one can be held
    in one's head."""
    sizes = {rel(path): code_lines(path) for path in python_files(os.path.join(ROOT, "plugins"))}
    assert {path: n for path, n in sizes.items() if n > MAX_CODE_LINES} == {}


def test_plugin_files_assign_no_tuples_at_module_level():
    """ansible-doc warns ("failed to assign id for <ast.Tuple ...>") for every module-level
    assignment to a tuple of names in a plugin file, and the package test refuses warnings."""
    found = []
    for path in python_files(os.path.join(ROOT, "plugins")):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        found.extend("%s:%d" % (rel(path), node.lineno) for node in tree.body
                     if isinstance(node, ast.Assign) and any(isinstance(t, ast.Tuple) for t in node.targets))
    assert found == []
