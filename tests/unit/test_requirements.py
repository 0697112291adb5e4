# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""requirements.txt declares exactly the third-party distributions the collection imports at run time.

requirements.txt is what an execution environment installs (meta/execution-environment.yml ->
ansible-builder) and what a controller needs, so a missing entry is an ImportError in the field
and an extra entry is dead weight in every EE. Both directions are checked against the code:
every ``.py`` under plugins/ is parsed with :mod:`ast` and every ``import x`` / ``from x import y``
anywhere in it (module level, inside functions, inside ``try:``) is collected, except

- the standard library (:data:`sys.stdlib_module_names`), ``ansible`` and ``ansible_collections``
  (ansible-core provides them) and relative imports (the collection itself);
- *fallback* imports: those in the handler of an ``except ImportError`` (for example ``tomli``
  when the stdlib's ``tomllib`` is missing on an old target). The code runs without them by
  definition; the import *tried first* is the one that counts, so a guarded
  ``try: import httpx`` / ``except ImportError: HAS_HTTPX = False`` is a requirement.

Import names are mapped to distributions with :func:`importlib.metadata.packages_distributions`
(``yaml`` -> PyYAML), so an import of something not installed in the test venv fails here with a
clear message instead of being guessed.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import sys

import pytest
from packaging.requirements import InvalidRequirement, Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "plugins")
REQUIREMENTS = os.path.join(ROOT, "requirements.txt")
PROVIDED = {"ansible", "ansible_collections"}  # ansible-core is the platform, not a requirement
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def canonical(name: str) -> str:
    """PEP 503 normalized distribution name (``PyYAML`` -> ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def rel(path: str) -> str:
    return os.path.relpath(path, ROOT)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(k, ast.Name) and k.id in IMPORT_ERRORS for k in kinds)


def _fallback_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes that sit in an ``except ImportError`` handler."""
    fallback = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                if handler.type is not None and _catches_import_error(handler):
                    for inner in handler.body:
                        fallback.update(id(n) for n in ast.walk(inner) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return fallback


def third_party_imports(top: str = PLUGINS) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(required, fallback): top-level import name -> ["file:line", ...] for third-party imports."""
    required: dict[str, list[str]] = {}
    fallback: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(f for f in filenames if f.endswith(".py")):
            path = os.path.join(dirpath, filename)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            fallbacks = _fallback_nodes(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue  # relative imports: the collection itself
                for name in names:
                    top_name = name.split(".")[0]
                    if top_name in sys.stdlib_module_names or top_name in PROVIDED:
                        continue
                    where = fallback if id(node) in fallbacks else required
                    where.setdefault(top_name, []).append(f"{rel(path)}:{node.lineno}")
    return required, fallback


def declared_requirements(path: str = REQUIREMENTS) -> dict[str, Requirement]:
    """canonical name -> Requirement for every requirement line of requirements.txt."""
    found: dict[str, Requirement] = {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                req = Requirement(text)
            except InvalidRequirement as exc:
                pytest.fail(f"{rel(path)}:{lineno}: not a requirement: {text!r} ({exc})")
            name = canonical(req.name)
            if name in found:
                pytest.fail(f"{rel(path)}:{lineno}: {req.name} is listed twice")
            found[name] = req
    return found


def imported_distributions(imports: dict[str, list[str]]) -> dict[str, list[str]]:
    """canonical distribution name -> where it is imported; fails for an import no installed
    distribution provides (the test venv is built from requirements.txt, so that import would
    fail at run time too)."""
    providers = importlib.metadata.packages_distributions()
    dists: dict[str, list[str]] = {}
    unknown = []
    for name, where in sorted(imports.items()):
        owners = providers.get(name)
        if not owners:
            unknown.append(f"{name} (imported at {', '.join(where)})")
            continue
        for owner in owners:
            dists.setdefault(canonical(owner), []).extend(where)
    assert not unknown, ("imported, but no distribution installed in %s provides it; add the "
                         "distribution to requirements.txt and run scripts/bootstrap:\n  %s"
                         % (sys.prefix, "\n  ".join(unknown)))
    return dists


def test_the_scan_sees_the_known_imports():
    """The collector itself: the engine's client and the mirror map reader are found as
    requirements, tomli (the tomllib backport in an except ImportError) as a fallback only."""
    required, fallback = third_party_imports()
    assert "httpx" in required and any(w.startswith("plugins/module_utils/_common/http_library.py:") for w in required["httpx"])
    assert "yaml" in required
    assert "tomli" in fallback and "tomli" not in required


def test_requirements_txt_is_exactly_what_plugins_import():
    required = third_party_imports()[0]
    imported = imported_distributions(required)
    declared = declared_requirements()
    missing = sorted(set(imported) - set(declared))
    unused = sorted(set(declared) - set(imported))
    problems = [f"{name} is imported ({', '.join(imported[name])}) but not declared in requirements.txt"
                for name in missing]
    problems += [f"requirements.txt declares {declared[name].name}, but nothing under plugins/ imports it"
                 for name in unused]
    assert not problems, "\n".join(problems)


def test_requirements_txt_is_satisfied_by_the_test_venv():
    """The pins are satisfiable: the venv the tests ran with (scripts/bootstrap installs
    requirements.txt into it) has a version of each distribution inside its specifier."""
    problems = []
    for req in declared_requirements().values():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{req} is not installed in {sys.prefix}")
            continue
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req}: {version} is installed in {sys.prefix}")
    assert not problems, "requirements.txt is not satisfied (run scripts/bootstrap):\n" + "\n".join(problems)


def test_execution_environment_metadata_points_at_the_requirement_files():
    """ansible-builder finds the collection's requirements through meta/execution-environment.yml;
    the files it names must be these two, relative to the collection root."""
    import yaml

    with open(os.path.join(ROOT, "meta", "execution-environment.yml"), encoding="utf-8") as handle:
        meta = yaml.safe_load(handle)
    assert meta.get("version") == 3, "meta/execution-environment.yml: version must be 3 (ansible-builder 3)"
    deps = meta.get("dependencies") or {}
    assert deps.get("python") == "requirements.txt" and deps.get("system") == "bindep.txt", deps
    for name in deps.values():
        assert not os.path.isabs(name) and os.path.isfile(os.path.join(ROOT, name)), name


def test_bindep_txt_parses_and_is_satisfied_here():
    """bindep.txt is valid bindep syntax (ansible-builder's assemble step fails on a file bindep
    cannot parse), selects packages on the RPM platforms execution environments are built on,
    and what it selects for this machine's platform is installed (the suite runs the modules
    here)."""
    from bindep.depends import Depends

    path = os.path.join(ROOT, "bindep.txt")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        depends = Depends(text, filename=path)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # DependsException or parsley's ParseError
        pytest.fail(f"bindep.txt is not valid bindep syntax: {exc}")
    rhel9 = ["platform:rpm", "platform:redhat", "platform:rhel", "platform:rhel-9", "default"]
    assert depends.list_all_packages(depends.active_rules(rhel9), output_format=None), \
        "bindep.txt selects no package on RHEL 9 (the UBI 9 base of examples/execution-environment.yml)"
    here = depends.active_rules(depends.platform_profiles() + ["default"])
    assert depends.check_rules(here) == [], f"bindep.txt packages missing on this machine: {depends.check_rules(here)}"
