"""What ansible-core puts into a module's AnsiballZ payload: every module_utils file the module
imports (imports inside functions too) and every package ``__init__.py`` on the way. Each file
costs every task: the controller parses it to build the payload, the module process compiles it
(bench/fixed_cost.py measures both). These tests build real payloads with ansible-core's own
finder and check that a module carries what it uses and not what only other modules use."""

import json
import os
import subprocess
import sys

import pytest

_FILES_OF = r"""
import json, sys, zipfile, io, base64, re
from ansible.executor import module_common
from ansible.plugins.loader import init_plugin_loader, module_loader
from ansible.template import Templar
init_plugin_loader([sys.argv[1]])
out = {}
for name in sys.argv[2:]:
    fqcn = "airgap.mirror." + name
    built = module_common.modify_module(
        module_name=fqcn, module_path=module_loader.find_plugin(fqcn), module_args={}, templar=Templar(loader=None),
        task_vars={"ansible_playbook_python": sys.executable}, module_compression="ZIP_STORED",
        async_timeout=0, become_plugin=None, environment={}, remote_is_local=True)
    data = re.search(rb"zip_data='([A-Za-z0-9+/=]+)'", built.b_module_data).group(1)
    names = zipfile.ZipFile(io.BytesIO(base64.b64decode(data))).namelist()
    out[name] = sorted(n.split("airgap/mirror/", 1)[1] for n in names if "airgap/mirror/plugins/" in n)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def payloads(tmp_path_factory):
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(tmp_path_factory.mktemp("ansible-local")))
    done = subprocess.run([sys.executable, "-c", _FILES_OF, os.environ["AIRGAP_COLLECTIONS_PATH"],
                           "image_mirror", "registries_conf"], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_image_mirror_carries_the_pull_through_reader_but_not_the_registries_conf_writer(payloads):
    files = payloads["image_mirror"]
    # imported inside a function (only a task with source_mirrors_file needs it): still in the payload
    assert "plugins/module_utils/_backends/source_mirrors.py" in files
    assert "plugins/module_utils/_consumers/registries_conf/model.py" in files
    assert "plugins/module_utils/_common/toml/parse.py" in files
    unused = [f for f in files if f.endswith((
        "registries_conf/conflicts.py", "registries_conf/render.py", "registries_conf/validate.py",
        "registries_conf/pairs.py", "registries_conf/dropin.py", "toml/emit.py", "_mirrormap/views.py"))]
    assert not unused
    assert not [f for f in files if "/_bundle/" in f or "/_sources/" in f or "/_products/" in f]


def test_registries_conf_module_carries_no_mirror_map_view(payloads):
    files = payloads["registries_conf"]
    assert "plugins/module_utils/_consumers/registries_conf/dropin.py" in files
    assert not [f for f in files if f.endswith(("registries_conf/pairs.py", "_mirrormap/views.py"))]
    assert not [f for f in files if "/_engine/" in f]


_LOADED_BY = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.airgap.mirror.plugins.modules import image_mirror  # noqa: F401
from ansible_collections.airgap.mirror.plugins.module_utils._engine import build, plan, run  # noqa: F401
from ansible_collections.airgap.mirror.plugins.module_utils._backends.image_mirror import prepare  # noqa: F401
if sys.argv[2] == "registry":
    jobs, failed = build.build_jobs(["quay.io/org/app:1", {"src": "quay.io/org/db@sha256:" + "a" * 64}],
                                    "mirror.example:5000/base", plan.ClientPool())
    assert len(jobs) == 2 and not failed, (jobs, failed)
prefix = "ansible_collections.airgap.mirror.plugins.module_utils."
print(json.dumps(sorted(m[len(prefix):] for m in sys.modules if m.startswith(prefix))))
"""

#: what only some runs need: layouts and dir: trees, chunked and resumed uploads, sharding, the
#: mirror's free-space check, semantic-version tag selection
_ON_DEMAND = ("_engine.layout", "_engine.direxport", "_engine.dirtree", "_engine.chunked", "_engine.resume",
              "_engine.shard", "_engine.mirrorspace", "_common.semver_range", "_common.version")


@pytest.mark.parametrize("stage", ["import", "registry"])
def test_a_registry_task_does_not_load_what_only_other_runs_need(stage):
    # every module a process loads is compiled at each task's start (bench/fixed_cost.py --imports)
    done = subprocess.run([sys.executable, "-c", _LOADED_BY, os.environ["AIRGAP_COLLECTIONS_PATH"], stage],
                          capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert "_engine.resolve" in loaded and "_oci.tagselect" in loaded  # what every task needs is there
    assert [m for m in _ON_DEMAND if m in loaded] == []


_HTTPX_LOADED = r"""
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "httpx first":
    import httpx  # a process that had httpx already (its command-line client included)
installed = [m for m in ("click", "rich", "pygments") if importlib.util.find_spec(m) is not None]
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http import transport
with transport.httpx.Client() as client:  # the library itself is whole
    assert client.build_request("GET", "http://127.0.0.1/v2/").url.path == "/v2/"
print(json.dumps({"installed": installed, "loaded": sorted(m for m in ("click", "rich", "pygments", "httpx._main")
                                                          if sys.modules.get(m) is not None)}))
"""


def test_a_registry_task_does_not_load_the_httpx_command_line_client():
    # Debian's python3-httpx depends on click, rich and pygments, and `import httpx` imports its
    # command-line client whenever they are there: 40-53 ms of CPU of every registry task's start-up
    done = subprocess.run([sys.executable, "-c", _HTTPX_LOADED, os.environ["AIRGAP_COLLECTIONS_PATH"], "fresh"],
                          capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    assert seen["installed"] == ["click", "rich", "pygments"]  # tests/requirements.txt: httpx[cli]
    assert seen["loaded"] == []


def test_a_process_that_imported_httpx_first_keeps_its_command_line_client():
    done = subprocess.run([sys.executable, "-c", _HTTPX_LOADED, os.environ["AIRGAP_COLLECTIONS_PATH"], "httpx first"],
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["loaded"] == ["click", "httpx._main", "pygments", "rich"]
