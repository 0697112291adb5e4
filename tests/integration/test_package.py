# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users get it: the built tarball, installed into a clean collections path.

One tarball per module run: the git-tracked files of the checkout are copied the way scripts/lint
and scripts/sanity copy them (scripts/lib/collection-copy.sh), development junk is planted into
that copy (what a developer's tree really holds: .venv, caches, bench results, old tarballs...),
and ``ansible-galaxy collection build`` runs there. It is installed with ``ansible-galaxy
collection install --offline`` into an empty directory, and every Ansible command below runs with
``ANSIBLE_COLLECTIONS_PATH`` set to that directory only: the checkout is on no collections path
(the dependency collections scripts/bootstrap extracted into the venv's site-packages are still
found through ansible-core's sys.path scan, which is where an installed ``ansible`` would put them).

- what the tarball holds (and what it must not), its size;
- the installed copy verifies against its manifest and is the only airgap.mirror Ansible sees;
- ``ansible-doc`` renders every module, filter, lookup and role entry point from it;
- the demo's mirror (playbooks mirror_to_disk and disk_to_mirror, role mirror_images, modules
  image_mirror and transfer_bundle) runs from it: vendor registry -> OCI layout -> bundle parts ->
  TLS + htpasswd mirror, checked with skopeo; a bad role argument is refused by the installed
  role's argument spec;
- examples/execution-environment.yml renders into an ansible-builder build context holding the
  tarball, and ansible-builder's introspection of the installed tarball finds requirements.txt
  and bindep.txt.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from support.ansible_run import AnsibleRunner

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COLLECTION = "airgap.mirror"

# Upper bound of the compressed tarball. What ships is text (code, role files, docs, changelog)
# and the README's benchmark chart (docs/img/bench.png, about 0.11 MiB): about 0.75 MiB
# compressed today. One MiB still fails on the first accident: bench/results alone is megabytes,
# tests/output tens of megabytes, .venv hundreds, and a stray image layout or bundle part is
# never small.
MAX_TARBALL_BYTES = 1 << 20
# No single shipped file is generated or binary; the largest module_utils file is ~70 KB.
MAX_MEMBER_BYTES = 256 << 10

# Development junk planted into the build tree before `ansible-galaxy collection build`: the
# places a real checkout accumulates it (see galaxy.yml build_ignore). None may reach the tarball.
JUNK = (
    ".venv/bin/python3",
    ".venv/lib/python3.11/site-packages/httpx/__init__.py",
    ".pytest_cache/v/cache/nodeids",
    ".ansible/collections/ansible_collections/airgap/mirror/README.md",
    ".tox/py311/log/1-commands.log",
    "plugins/modules/__pycache__/image_mirror.cpython-311.pyc",
    "plugins/module_utils/_engine/stale.pyc",
    "tests/unit/__pycache__/test_requirements.cpython-311-pytest-9.2.0.pyc",
    "tests/output/junit/unit.xml",
    "bench/results/run-1/results.json",
    "demo-output/mirror-map.yml",
    "context/Containerfile",
    "changelogs/.plugin-cache.yaml",
    "airgap-mirror-0.0.1.tar.gz",
    "examples/airgap-mirror-0.0.1.tar.gz",
    "roles/mirror_images/tasks/main.yml~",
    "plugins/modules/.image_mirror.py.swp",
)
# Never in the tarball, whatever the tree holds.
FORBIDDEN = re.compile(r"(^|/)(\.venv|\.tox|\.pytest_cache|\.ansible|__pycache__|\.git)(/|$)|\.py[co]$"
                       r"|^(bench|scripts|\.ci|tests/output|demo-output|context)(/|$)|\.tar\.gz$")
# What a user of the collection needs: every git-tracked file under these must ship.
SHIPPED_DIRS = ("plugins", "roles", "playbooks", "meta", "docs", "changelogs", "examples", "tests/sanity")
SHIPPED_FILES = ("README.md", "requirements.txt", "bindep.txt")
WARNING = re.compile(r"\[(WARNING|ERROR|DEPRECATION WARNING)\]")


def run(cmd, *, env=None, cwd=None, timeout=300, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"$ {' '.join(map(str, cmd))}\nrc={proc.returncode}\n--- stdout\n{proc.stdout}\n"
                    f"--- stderr\n{proc.stderr}", pytrace=False)
    return proc


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing; run scripts/bootstrap", pytrace=False)
    return str(path)


def ansible_env(collections: Path) -> dict:
    """The environment of every Ansible command here: the clean install is the only collections path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "AIRGAP_COLLECTIONS_PATH"}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_LOCAL_TEMP": str(collections.parent / "ansible-tmp")})
    return env


@dataclass
class Built:
    tarball: Path
    version: str
    tracked: set[str]           # the files of the build tree that git tracks (what should ship)
    members: dict[str, int] = field(default_factory=dict)   # file name -> size, from the tarball
    seconds: float = 0.0


@dataclass
class Installed:
    built: Built
    collections: Path           # the ANSIBLE_COLLECTIONS_PATH entry
    path: Path                  # .../ansible_collections/airgap/mirror
    env: dict


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    work = tmp_path_factory.mktemp("package")
    script = ROOT / "scripts" / "lib" / "collection-copy.sh"
    proc = run(["bash", "-c", '. "$1"; collection_copy "$2" 0; printf "%s\\n%s" "$COPY_WORK" "$COPY"',
                "collection-copy", script, ROOT])
    copy_work, copy = proc.stdout.splitlines()
    try:
        copy = Path(copy)
        tracked = set(run(["git", "-C", copy, "ls-files"]).stdout.splitlines())
        for junk in JUNK:
            path = copy / junk
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("planted by tests/integration/test_package.py\n")
        start = time.monotonic()
        run([tool("ansible-galaxy"), "collection", "build", "--output-path", work / "dist", copy],
            env=ansible_env(work / "none"))
        seconds = time.monotonic() - start
        version = yaml.safe_load((copy / "galaxy.yml").read_text())["version"]
    finally:
        shutil.rmtree(copy_work, ignore_errors=True)
    tarballs = list((work / "dist").glob("*.tar.gz"))
    assert [t.name for t in tarballs] == [f"airgap-mirror-{version}.tar.gz"], tarballs
    with tarfile.open(tarballs[0]) as tar:
        members = {m.name: m.size for m in tar.getmembers() if not m.isdir()}
    return Built(tarballs[0], version, tracked, members, seconds)


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> Installed:
    collections = tmp_path_factory.mktemp("clean") / "collections"
    collections.mkdir()
    env = ansible_env(collections)
    run([tool("ansible-galaxy"), "collection", "install", "--offline", built.tarball, "-p", collections], env=env)
    path = collections / "ansible_collections" / "airgap" / "mirror"
    assert (path / "MANIFEST.json").is_file(), f"nothing installed at {path}"
    return Installed(built, collections, path, env)


# -- the tarball ------------------------------------------------------------------------------------

def test_tarball_ships_the_collection_and_nothing_else(built):
    shipped = set(built.members)
    size = built.tarball.stat().st_size
    print(f"\n{built.tarball.name}: {size} bytes, {len(shipped)} files, built in {built.seconds:.2f} s")

    planted = sorted(j for j in JUNK if j in shipped)
    assert not planted, f"planted development junk reached the tarball (galaxy.yml build_ignore): {planted}"
    forbidden = sorted(f for f in shipped if FORBIDDEN.search(f))
    assert not forbidden, f"the tarball holds caches/tooling/generated files: {forbidden}"
    untracked = sorted(shipped - built.tracked - {"MANIFEST.json", "FILES.json"})
    assert not untracked, f"the tarball holds files git does not track: {untracked}"

    needed = {f for f in built.tracked
              if f in SHIPPED_FILES or any(f.startswith(d + "/") for d in SHIPPED_DIRS)}
    assert "plugins/modules/image_mirror.py" in needed and "meta/execution-environment.yml" in needed
    missing = sorted(needed - shipped)
    assert not missing, f"files the collection needs are not in the tarball (galaxy.yml build_ignore): {missing}"
    tests = sorted(f for f in shipped if f.startswith("tests/") and not f.startswith("tests/sanity/"))
    assert not tests, f"only tests/sanity ships (the pytest suite needs the checkout): {tests}"

    assert size <= MAX_TARBALL_BYTES, f"{built.tarball.name} is {size} bytes (limit {MAX_TARBALL_BYTES})"
    big = {name: n for name, n in built.members.items() if n > MAX_MEMBER_BYTES}
    assert not big, f"files over {MAX_MEMBER_BYTES} bytes in the tarball: {big}"

    with tarfile.open(built.tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("airgap", "mirror", built.version)


def test_installed_copy_verifies_and_is_the_only_one(installed):
    env = installed.env
    run([tool("ansible-galaxy"), "collection", "verify", "--offline", COLLECTION], env=env)
    listing = json.loads(run([tool("ansible-galaxy"), "collection", "list", "--format", "json"], env=env).stdout)
    homes = sorted(path for path, found in listing.items() if COLLECTION in found)
    assert homes == [str(installed.collections / "ansible_collections")], listing
    assert listing[homes[0]][COLLECTION]["version"] == installed.built.version


# -- ansible-doc ------------------------------------------------------------------------------------

def _plugin_names(kind: str) -> list[str]:
    directory = ROOT / "plugins" / kind
    return sorted(p.stem for p in directory.glob("*.py") if p.stem != "__init__")


def _documentation(path: Path) -> dict:
    """DOCUMENTATION of a plugin file (the string assigned at module level), parsed."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    pytest.fail(f"{path.relative_to(ROOT)}: no DOCUMENTATION", pytrace=False)
    return {}


def discover() -> dict[str, dict[str, str]]:
    """type -> {FQCN (roles: FQCN:entry point) -> short description}, read from the checkout.

    Filters are what each plugins/filter/*.py's FilterModule registers (a file may hold several);
    their documentation lives in plugins/filter/<name>.yml.
    """
    found: dict[str, dict[str, str]] = {"module": {}, "lookup": {}, "filter": {}, "role": {}}
    for kind, directory in (("module", "modules"), ("lookup", "lookup")):
        for name in _plugin_names(directory):
            path = ROOT / "plugins" / directory / f"{name}.py"
            found[kind][f"{COLLECTION}.{name}"] = _documentation(path)["short_description"]
    for stem in _plugin_names("filter"):
        module = importlib.import_module(f"ansible_collections.airgap.mirror.plugins.filter.{stem}")
        for name in module.FilterModule().filters():
            doc_path = ROOT / "plugins" / "filter" / f"{name}.yml"
            assert doc_path.is_file(), f"filter {name} (plugins/filter/{stem}.py) has no plugins/filter/{name}.yml"
            doc = yaml.safe_load(doc_path.read_text(encoding="utf-8"))["DOCUMENTATION"]
            found["filter"][f"{COLLECTION}.{name}"] = doc["short_description"]
    for spec in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        role = spec.parent.parent.name
        for entry, body in (yaml.safe_load(spec.read_text(encoding="utf-8"))["argument_specs"] or {}).items():
            found["role"][f"{COLLECTION}.{role}:{entry}"] = body["short_description"]
    return found


def ansible_doc(installed, *args) -> subprocess.CompletedProcess:
    proc = run([tool("ansible-doc"), *args], env=installed.env, cwd=installed.collections.parent)
    assert not WARNING.search(proc.stderr), f"ansible-doc {' '.join(args)}:\n{proc.stderr}"
    return proc


def test_ansible_doc_renders_every_plugin_and_role_from_the_tarball(installed):
    found = discover()
    for kind, names in found.items():
        assert names, f"no {kind} found in the checkout"
    assert f"{COLLECTION}.image_mirror" in found["module"]
    prefix = str(installed.path) + "/"

    for kind in ("module", "filter", "lookup"):
        expected = found[kind]
        # The list of the installed collection is exactly what the checkout defines.
        listed = json.loads(ansible_doc(installed, "-t", kind, "-l", "--json", COLLECTION).stdout)
        assert sorted(listed) == sorted(expected), f"ansible-doc -t {kind} -l {COLLECTION}"
        # Every one loads, from the installed copy, with the short description of its source.
        docs = json.loads(ansible_doc(installed, "-t", kind, "--json", *expected).stdout)
        assert sorted(docs) == sorted(expected), f"ansible-doc -t {kind} --json returned {sorted(docs)}"
        for name, short in expected.items():
            doc = docs[name]["doc"]
            assert doc["short_description"] == short, name
            assert doc["filename"].startswith(prefix), f"{name} documented from {doc['filename']}"
        # And renders as text (the formatter walks every option, return value and markup).
        text = ansible_doc(installed, "-t", kind, *expected).stdout
        for name in expected:
            # (without colour, ansible-doc marks bold text with asterisks)
            assert re.search(rf"^> {kind.upper()} \*?{re.escape(name)}\*? \({re.escape(prefix)}", text, re.M), \
                f"no text rendering of {name} from {prefix}"

    roles: dict[str, dict[str, str]] = {}
    for key, short in found["role"].items():
        name, entry = key.split(":")
        roles.setdefault(name, {})[entry] = short
    listed = json.loads(ansible_doc(installed, "-t", "role", "-l", "--json", COLLECTION).stdout)
    assert {n: sorted(v["entry_points"]) for n, v in listed.items()} == {n: sorted(e) for n, e in roles.items()}
    docs = json.loads(ansible_doc(installed, "-t", "role", "--json", *roles).stdout)
    for name, entries in roles.items():
        assert docs[name]["path"] == str(installed.path), f"{name} documented from {docs[name]['path']}"
        assert {e: v["short_description"] for e, v in docs[name]["entry_points"].items()} == entries, name
    text = " ".join(ansible_doc(installed, "-t", "role", *roles).stdout.split())
    for name, entries in roles.items():
        assert re.search(rf"> ROLE: \*?{re.escape(name)}\*? \({re.escape(str(installed.path))}\)", text), name
        for entry, short in entries.items():
            assert re.search(rf"ENTRY POINT: \*?{entry}\*? - {re.escape(' '.join(short.split()))}", text), \
                f"{name} entry point {entry}"


# -- the demo's mirror from the installed collection ------------------------------------------------

TASK_PATH = re.compile(r"^task path: (.+?):\d+$", re.M)


def _task_paths(result) -> list[str]:
    return TASK_PATH.findall(result.stdout)


def test_demo_mirror_runs_from_the_installed_collection(installed, plain_registry, sample_layout,
                                                        registry_factory, skopeo, tmp_path):
    seeded = sample_layout.seed(plain_registry, prefix="package-test/")
    release = {"release": {"base": "4.99.0-package-test"},
               "images": {ref: f"{seeded[ref].rsplit(':', 1)[0]}@{image.digest}"
                          for ref, image in sample_layout.images.items()}}
    release_path = tmp_path / "release-x86_64.json"
    release_path.write_text(json.dumps(release))
    mirror = registry_factory(tls=True, auth=True)
    runner = AnsibleRunner(tmp_path / "ansible", env={"ANSIBLE_COLLECTIONS_PATH": str(installed.collections)})

    connected = {
        "mirror_images_microshift_release_files": [str(release_path)],
        "mirror_images_layout": str(tmp_path / "connected" / "images"),
        "mirror_images_mirror_map": str(tmp_path / "connected" / "disk-map.yml"),
        "mirror_images_bundle_dir": str(tmp_path / "media"),
        "mirror_images_part_size": "8K",
        "mirror_images_insecure_registries": [plain_registry.host],
    }
    start = time.monotonic()
    res = runner.playbook("airgap.mirror.mirror_to_disk", extra_vars=connected, verbosity=2)
    assert res.rc == 0, res.output
    paths = _task_paths(res)
    airgapped = {
        "mirror_images_bundle_dir": connected["mirror_images_bundle_dir"],
        "mirror_images_layout": str(tmp_path / "airgapped" / "images"),
        "mirror_images_registry": mirror.host,
        "mirror_images_dest_username": mirror.username,
        "mirror_images_dest_password": mirror.password,
        "mirror_images_ca_path": str(mirror.ca_path),
        "mirror_images_mirror_map": str(tmp_path / "airgapped" / "mirror-map.yml"),
    }
    res = runner.playbook("airgap.mirror.disk_to_mirror", extra_vars=airgapped, verbosity=2)
    assert res.rc == 0, res.output
    print(f"\nmirror_to_disk + disk_to_mirror from the tarball: {time.monotonic() - start:.1f} s")
    assert mirror.password not in res.stdout + res.stderr
    paths += _task_paths(res)

    # Every task came from the installed collection: its playbooks and its mirror_images role.
    role_dir = str(installed.path / "roles" / "mirror_images") + "/"
    assert any(p.startswith(role_dir) for p in paths), f"no task of {role_dir} ran:\n{paths}"
    elsewhere = sorted({p for p in paths if not p.startswith(str(installed.path) + "/")})
    assert not elsewhere, f"tasks outside the installed collection {installed.path}: {elsewhere}"

    # skopeo (not the engine) reads every image from the TLS mirror, digests unchanged.
    entries = yaml.safe_load(Path(airgapped["mirror_images_mirror_map"]).read_text())["images"]
    by_digest = {e["digest"]: e for e in entries}
    for ref, image in sample_layout.images.items():
        entry = by_digest.get(image.digest)
        assert entry is not None, f"{ref} ({image.digest}) is not in the mirror map: {entries}"
        assert entry["destination"].startswith(mirror.host + "/"), entry
        assert skopeo.digest_of("docker://" + entry["destination"], registry=mirror) == image.digest, ref


def test_installed_role_validates_its_arguments(installed, tmp_path):
    runner = AnsibleRunner(tmp_path / "ansible", env={"ANSIBLE_COLLECTIONS_PATH": str(installed.collections)})
    res = runner.playbook("airgap.mirror.disk_to_mirror", verbosity=2, extra_vars={
        "mirror_images_bundle_dir": str(tmp_path / "media"),
        "mirror_images_layout": str(tmp_path / "images"),
        "mirror_images_registry": "mirror.invalid:5000",
        "mirror_images_concurrency": "a few",
    })
    assert res.rc != 0, res.output
    failed = res.failed
    assert len(failed) == 1, res.output
    assert failed[0]["action"] == "ansible.builtin.validate_argument_spec", failed[0]
    result = failed[0]["result"]
    assert "mirror_images_concurrency" in result["msg"], result["msg"]
    # The spec that refused it is the installed role's from_disk entry point.
    assert result["validate_args_context"] == {
        "argument_spec_name": "from_disk", "name": "mirror_images", "type": "role",
        "path": str(installed.path / "roles" / "mirror_images")}, result["validate_args_context"]
    assert not (tmp_path / "images").exists(), "the role went on after refusing its arguments"


# -- the execution environment example --------------------------------------------------------------

def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def test_execution_environment_example_builds_a_context_with_the_tarball(installed, tmp_path):
    built = installed.built
    definition = yaml.safe_load((ROOT / "examples" / "execution-environment.yml").read_text())
    requirements = yaml.safe_load((ROOT / "examples" / "requirements.yml").read_text())
    files = [c for c in requirements["collections"] if c.get("type") == "file"]
    assert [c["name"] for c in files] == [f"collections/{built.tarball.name}"], \
        f"examples/requirements.yml must install {built.tarball.name} (galaxy.yml version {built.version})"

    # The directory examples/README.md tells users to build in: the two files and the tarball.
    ee = tmp_path / "ee"
    ee.mkdir()
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(ROOT / "examples" / name, ee / name)
    shutil.copy(built.tarball, ee / built.tarball.name)
    run([tool("ansible-builder"), "create", "--context", "context", "--output-filename", "Containerfile"], cwd=ee)

    context = ee / "context"
    build = context / "_build"
    assert yaml.safe_load((build / "requirements.yml").read_text()) == requirements
    assert (build / "collections" / built.tarball.name).read_bytes() == built.tarball.read_bytes()
    containerfile = (context / "Containerfile").read_text()
    assert f'ARG EE_BASE_IMAGE="{definition["images"]["base_image"]["name"]}"' in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    assert "introspect.py introspect" in containerfile and "/output/scripts/install-from-bindep" in containerfile

    # The galaxy stage runs in /build (= context/_build): the tarball entry resolves there.
    # (kubernetes.core comes from Galaxy at build time; unreachable here, so only the file entry.)
    (build / "file-entries.yml").write_text(yaml.safe_dump({"collections": files}))
    ee_collections = tmp_path / "ee-collections"
    env = ansible_env(ee_collections)
    run([tool("ansible-galaxy"), "collection", "install", "--offline", "-r", "file-entries.yml",
         "-p", ee_collections], env=env, cwd=build)

    # What the builder stage's introspection gets from the installed collection.
    proc = run([tool("ansible-builder"), "introspect", ee_collections, "--write-pip", tmp_path / "pip.txt",
                "--write-bindep", tmp_path / "bindep.txt"])
    origin = "  # from collection airgap.mirror"
    pip = (tmp_path / "pip.txt").read_text().splitlines()
    system = (tmp_path / "bindep.txt").read_text().splitlines()
    assert all(line.endswith(origin) for line in pip + system), proc.stdout
    declared = _requirement_lines(ROOT / "requirements.txt")
    # ansible-builder drops PyYAML from collection requirements: the EE has it through ansible-core.
    dropped = [r for r in declared if Requirement(r).name.lower() == "pyyaml"]
    if dropped:
        core_requires = [Requirement(r).name.lower() for r in importlib.metadata.requires("ansible-core") or []]
        assert "pyyaml" in core_requires, "requirements.txt needs PyYAML but ansible-core no longer brings it"
    assert sorted(line[:-len(origin)] for line in pip) == sorted(r for r in declared if r not in dropped)
    assert sorted(line[:-len(origin)] for line in system) == sorted(_requirement_lines(ROOT / "bindep.txt"))
