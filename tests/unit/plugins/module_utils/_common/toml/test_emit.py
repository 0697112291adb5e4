import tomllib

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.toml import emit as E
from ansible_collections.airgap.mirror.plugins.module_utils._common.toml import parse as P


TRICKY = ['plain', 'quote " inside', "back\\slash", "tab\tand\nnewline", "\x00\x1f\x7f controls",
          "unicode \u00e9\u4e2d\U0001f600", "'single'", '"""', "#not a comment", "[not a table]"]


@pytest.mark.parametrize("value", TRICKY)
def test_string_escaping_round_trips(value):
    text = E.dumps({"key": value, "odd key.with dots": value})
    assert tomllib.loads(text) == {"key": value, "odd key.with dots": value}
    assert P.loads_builtin(text) == {"key": value, "odd key.with dots": value}


def test_emitter_structure():
    doc = {"top": 1, "flag": True, "list": ["a", "b"], "registry": [
        {"prefix": "a", "mirror": [{"location": "m1"}, {"location": "m2"}]},
        {"prefix": "b"},
    ], "table": {"x": "y", "sub": {"z": False}}}
    text = E.dumps(doc)
    assert tomllib.loads(text) == doc
    assert P.loads_builtin(text) == doc
    assert "[[registry.mirror]]" in text and "[table.sub]" in text


def test_emitter_refuses_what_it_cannot_write():
    with pytest.raises(ValueError):
        E.dumps({"x": None})
    with pytest.raises(ValueError):
        E.dumps({"x": float("nan")})
