import os
import tomllib

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.toml import parse as P
from ansible_collections.airgap.mirror.plugins.module_utils._common.toml.errors import TOMLError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.model import build
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.render import render

PAIRS = [
    {"source": "registry.redhat.io", "mirror": "mirror.example.com:8443"},
    {"source": "quay.io", "mirror": "mirror.example.com:8443"},
]

# Real drop-ins and configuration files shipped by Debian's containers packages on this machine.
SYSTEM_FILES = [
    "/etc/containers/registries.conf",
    "/etc/containers/registries.conf.d/shortnames.conf",
    "/usr/share/doc/golang-github-containers-image/examples/registries.conf",
]


VALID_DOCS = [
    "",
    "# only a comment\n",
    'a = "b"\r\nc = \'d\'\n',
    'unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]\n',
    '[[registry]]\nprefix = "quay.io"  # trailing comment\nlocation="quay.io"\n\n[[registry.mirror]]\nlocation = "m:5000"\ninsecure = true\n',
    '[aliases]\n  "fedora" = "registry.fedoraproject.org/fedora"\n  centos = "quay.io/centos/centos"\n',
    'a.b.c = 1\na.b.d = 2\n[a.e]\nf = 3\n',
    'x = [\n  1,  # one\n  2,\n]\ny = []\nz = [[1, 2], ["a"]]\n',
    'i = { a = 1, b = { c = "d" } }\nj = {}\n',
    'n = [+1, -0, 0xDEAD_beef, 0o755, 0b1010, 1_000, 3.14, -2e-3, 6.0E+2, inf, -inf]\n',
    's = """\nline one\n  line two \\\n    continued"""\nt = \'\'\'\nraw \\n here\'\'\'\n',
    'q = """a ""quoted"" b"""\nr = """ends with two quotes"""""\n',
    'u = "\\u00e9\\U0001F600\\b\\f\\r"\n',
    '"quoted key" = 1\n\'literal key\' = 2\n"" = 3\n',
    '[[a]]\nb = 1\n[[a]]\nb = 2\n[a.c]\nd = 3\n',
    '[x.y]\nz = 1\n[x]\nw = 2\n',
]


@pytest.mark.parametrize("text", VALID_DOCS)
def test_builtin_parser_agrees_with_tomllib(text):
    expected = tomllib.loads(text)
    got = P.loads_builtin(text)
    # NaN never compares equal; none of the documents has one
    assert got == expected


INVALID_DOCS = [
    'a = "unterminated\n',
    "a = 'unterminated\n",
    "a = 1\na = 2\n",
    "[t]\n[t]\n",
    "a = 1 b = 2\n",
    "a =\n",
    "= 1\n",
    "[[a]]\n[a]\n",
    "a = [1, 2\n",
    "a = {b = 1,}\n",
    "a = {b = 1}\n[a]\n",
    "a = 01\n",
    "a = 1.\n",
    "a = .5\n",
    "a = truex\n",
    'a = "\\q"\n',
    'a = "\\uD800"\n',
    "a = [1]\n[[a]]\n",
    "[a\n",
    "a.b = 1\n[a.b]\n",
    'a = """x\n',
    "a = \"ctl \x01\"\n",
    "a = 0x_1\n",
    "a = 1__0\n",
    "a = 1979-05-27\n",
]


@pytest.mark.parametrize("text", INVALID_DOCS)
def test_builtin_parser_rejects_what_tomllib_rejects(text):
    if text != "a = 1979-05-27\n":  # a date: valid TOML that the builtin parser refuses on purpose
        with pytest.raises(tomllib.TOMLDecodeError):
            tomllib.loads(text)
    with pytest.raises(TOMLError):
        P.loads_builtin(text)


def test_builtin_parser_error_position():
    with pytest.raises(TOMLError, match=r"duplicate key 'b' \(at line 3, column 1\)"):
        P.loads_builtin("# c\nb = 1\nb = 2\n")


@pytest.mark.parametrize("path", SYSTEM_FILES)
def test_builtin_parser_on_real_files(path):
    assert os.path.exists(path), "%s is shipped by the containers packages (scripts/bootstrap installs them)" % path
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert P.loads_builtin(text) == tomllib.loads(text)


# ------------------------------------------------------------------ render and check


def test_builtin_parser_differential_against_tomllib():
    """Mutated documents: both parsers accept with the same result, or both refuse."""
    import random

    rnd = random.Random(20261121)
    seeds = [d for d in VALID_DOCS if d] + [render(build(pairs=PAIRS))]
    alphabet = list("[]{}\"'=.,#\n\r \t\\ab1_-+xeE:") + ['"""', "'''", "true", "inf"]
    disagreements = []
    for _round in range(4000):
        chars = list(rnd.choice(seeds))
        for _edit in range(rnd.randint(1, 3)):
            pos = rnd.randint(0, len(chars))
            roll = rnd.random()
            if roll < 0.4 and chars:
                del chars[min(pos, len(chars) - 1)]
            elif roll < 0.8:
                chars.insert(pos, rnd.choice(alphabet))
            elif chars:
                chars[min(pos, len(chars) - 1)] = rnd.choice(alphabet)
        text = "".join(chars)
        try:
            expected = ("ok", tomllib.loads(text))
        except tomllib.TOMLDecodeError:
            expected = ("error",)
        try:
            got = ("ok", P.loads_builtin(text))
        except TOMLError:
            got = ("error",)
        if repr(got) != repr(expected):
            disagreements.append(text)
    assert disagreements == []
