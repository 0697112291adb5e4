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
