"""Test bootstrap: make this checkout importable as ``ansible_collections.airgap.mirror``.

The checkout can live anywhere (CI clones it to an arbitrary path), so a per-run directory holds
``ansible_collections/airgap/mirror`` as a symlink to the checkout. ``AIRGAP_COLLECTIONS_PATH`` is
exported for tests that run ``ansible-playbook`` (they put it in ``ANSIBLE_COLLECTIONS_PATH``).
"""

import atexit
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collection_shim():
    base = tempfile.mkdtemp(prefix="airgap-collections-")
    ns = os.path.join(base, "ansible_collections", "airgap")
    os.makedirs(ns)
    os.symlink(ROOT, os.path.join(ns, "mirror"))
    atexit.register(shutil.rmtree, base, True)
    return base


if "AIRGAP_COLLECTIONS_PATH" not in os.environ:
    os.environ["AIRGAP_COLLECTIONS_PATH"] = _collection_shim()
sys.path.insert(0, os.environ["AIRGAP_COLLECTIONS_PATH"])
sys.path.insert(0, os.path.join(ROOT, "tests"))

pytest_plugins = ["support.fixtures", "support.hosts_fixtures"]
