"""Keys shared by the _trust tests: two throw-away GPG keys and two cosign (ECDSA P-256) keys."""

import pytest

from support import cosign
from support.gpg import make_key


@pytest.fixture(scope="session")
def gpg_keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("trust-keys")
    return {"alice": make_key(base, "alice"), "mallory": make_key(base, "mallory")}


@pytest.fixture(scope="session")
def cosign_keys():
    return {"alice": cosign.make_key(), "mallory": cosign.make_key()}
