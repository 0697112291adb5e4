import os
import tomllib

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import registries_conf as R

D = "sha256:" + "ab" * 32
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


def _labelled(*tables):
    return [("entry %d" % i, t) for i, t in enumerate(tables)]


# ------------------------------------------------------------------ build: the seed 003 shape


def test_build_seed_003_section_2_6():
    entries = R.build(pairs=PAIRS)
    tables = [t for _l, t in entries]
    assert tables == [
        {"prefix": "mirror.example.com:8443", "location": "mirror.example.com:8443", "insecure": False},
        {"prefix": "quay.io", "location": "quay.io", "insecure": False, "mirror-by-digest-only": True,
         "mirror": [{"location": "mirror.example.com:8443", "insecure": False}]},
        {"prefix": "registry.redhat.io", "location": "registry.redhat.io", "insecure": False,
         "mirror-by-digest-only": True, "mirror": [{"location": "mirror.example.com:8443", "insecure": False}]},
    ]
    R.validate(entries)


def test_build_options_and_labels():
    entries = R.build(pairs=PAIRS[:1], mirror_insecure=True, mirror_by_digest_only=False, mirror_registry_entry=False)
    assert [label for label, _t in entries] == ["pairs[0] (registry.redhat.io -> mirror.example.com:8443)"]
    table = entries[0][1]
    assert table["mirror-by-digest-only"] is False
    assert table["mirror"] == [{"location": "mirror.example.com:8443", "insecure": True}]


def test_build_registries_defaults():
    entries = R.build(registries=[
        {"prefix": "quay.io/openshift-release-dev", "mirrors": [{"location": "m.example.com/ocp"}]},
        {"location": "docker.io"},
        {"prefix": "*.example.org", "blocked": True},
        {"prefix": "ghcr.io", "mirrors": [{"location": "m.example.com/ghcr", "pull_from_mirror": "digest-only"}]},
    ])
    tables = [t for _l, t in entries]
    assert tables[0] == {"prefix": "quay.io/openshift-release-dev", "location": "quay.io/openshift-release-dev",
                         "insecure": False, "mirror-by-digest-only": True,
                         "mirror": [{"location": "m.example.com/ocp", "insecure": False}]}
    assert tables[1] == {"prefix": "docker.io", "location": "docker.io", "insecure": False}
    assert tables[2] == {"prefix": "*.example.org", "insecure": False, "blocked": True}
    # a per-mirror pull-from-mirror: mirror-by-digest-only is left out (containers/image refuses both)
    assert "mirror-by-digest-only" not in tables[3]
    assert tables[3]["mirror"] == [{"location": "m.example.com/ghcr", "insecure": False, "pull-from-mirror": "digest-only"}]
    R.validate(entries)


def test_build_mirror_entry_not_added_when_prefix_taken():
    entries = R.build(registries=[{"prefix": "mirror.example.com:8443", "insecure": False}], pairs=PAIRS[:1])
    assert [R.effective_prefix(t) for _l, t in entries].count("mirror.example.com:8443") == 1


def test_build_rejects_unknown_keys_and_bad_pairs():
    with pytest.raises(R.RegistriesConfError, match=r"registries\[0\]: unknown key\(s\) mirror"):
        R.build(registries=[{"prefix": "quay.io", "mirror": []}])
    with pytest.raises(R.RegistriesConfError, match=r"pairs\[1\]"):
        R.build(pairs=[PAIRS[0], {"source": "quay.io"}])


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("prefix", [
    "quay.io", "quay.io:443", "localhost:5000", "localhost", "[::1]:5000", "quay.io/org", "quay.io/org/app",
    "quay.io/org/app:1.0", "quay.io/org/app@" + D, "*.example.com", "*.a.b.example.com", "docker.io/library/nginx",
    "quay.io/",
])
def test_valid_prefixes(prefix):
    assert R.check_prefix(prefix) == prefix.rstrip("/")


@pytest.mark.parametrize("prefix, reason", [
    ("https://quay.io", "scheme"),
    ("*.example.com:5000", "wildcard"),
    ("*.example.com/foo", "wildcard"),
    ("example.*.com", "first label"),
    ("*example.com", "wildcard"),
    ("mirror", "registry host"),
    ("mirror/foo", "registry host"),
    ("quay.io/Org", "lower-case"),
    ("Quay.io", "normalized to quay.io"),
    ("index.docker.io", "normalized to docker.io"),
    ("docker.io/nginx", "docker.io/library/nginx"),
    (" quay.io", "white space"),
    ("", "non-empty"),
    ("quay.io/org app", "white space"),
])
def test_invalid_prefixes(prefix, reason):
    with pytest.raises(ValueError, match=reason):
        R.check_prefix(prefix)


@pytest.mark.parametrize("location, reason", [
    ("http://mirror.example.com", "scheme"),
    ("mirror.example.com/app:1.0", "tag"),
    ("mirror.example.com/app@" + D, "digest"),
    ("*.example.com", "invalid registry host"),
    ("mirror/ns", "registry host"),
    ("registry-1.docker.io", "normalized to docker.io"),
    ("", "non-empty"),
])
def test_invalid_locations(location, reason):
    with pytest.raises(ValueError, match=reason):
        R.check_location(location)


def _problem(tables, match):
    with pytest.raises(R.RegistriesConfError, match=match):
        R.validate(_labelled(*tables))


def test_duplicate_prefix_names_both_entries():
    _problem([{"prefix": "quay.io", "location": "quay.io"}, {"prefix": "quay.io/", "location": "m.example.com"}],
             r"entry 1: prefix quay.io is already used by entry 0")
    # an omitted prefix defaults to the location, as in containers/image
    _problem([{"location": "quay.io"}, {"prefix": "quay.io", "location": "quay.io"}], "already used by entry 0")


def test_conflicting_insecure_for_one_location():
    _problem([{"prefix": "a.example.com", "location": "m.example.com", "insecure": True},
              {"prefix": "b.example.com", "location": "m.example.com", "insecure": False}],
             "location m.example.com is also used by entry 0 with a different 'insecure'")
    _problem([{"prefix": "a.example.com", "location": "m.example.com"},
              {"prefix": "b.example.com", "location": "m.example.com", "blocked": True}], "'blocked'")


def test_mirror_rules():
    _problem([{"prefix": "quay.io", "location": "quay.io", "mirror-by-digest-only": True,
               "mirror": [{"location": "m.example.com", "pull-from-mirror": "digest-only"}]}],
             "cannot be combined with mirror-by-digest-only")
    _problem([{"prefix": "quay.io", "location": "quay.io", "mirror": [{"location": "m.example.com", "pull-from-mirror": "sometimes"}]}],
             "'sometimes' is not one of all, digest-only, tag-only")
    _problem([{"prefix": "quay.io", "location": "quay.io", "mirror": [{"location": "https://m.example.com"}]}],
             r"entry 0: mirror\[0\]: location .*scheme")
    _problem([{"prefix": "quay.io", "location": "quay.io", "mirror": [{"insecure": True}]}], r"mirror\[0\]: location")
    _problem([{"prefix": "quay.io", "location": "quay.io", "mirror": [{"location": "m.example.com", "insceure": True}]}],
             r"unknown key\(s\) insceure")
    _problem([{"prefix": "quay.io", "location": "quay.io", "mirror": [{"location": "m.example.com"}, {"location": "m.example.com/"}]}],
             "listed twice")


def test_other_structural_rules():
    _problem([{"prefix": "*.example.com", "location": "m.example.com"}], "wildcard prefix .* takes no location")
    _problem([{"insecure": True}], "neither prefix nor location")
    _problem([{"prefix": "quay.io", "mirror-by-digest-onyl": True}], r"unknown key\(s\) mirror-by-digest-onyl")
    _problem([{"prefix": "quay.io", "insecure": "false"}], "insecure must be true or false")
    _problem([{"prefix": "quay.io", "mirror": {"location": "m.example.com"}}], "array of tables")


def test_all_problems_are_reported_at_once():
    with pytest.raises(R.RegistriesConfError) as info:
        R.validate(_labelled({"prefix": "mirror"}, {"prefix": "https://x.example.com"}))
    assert "entry 0" in str(info.value) and "entry 1" in str(info.value)


# ------------------------------------------------------------------ emitter and parsers


TRICKY = ['plain', 'quote " inside', "back\\slash", "tab\tand\nnewline", "\x00\x1f\x7f controls",
          "unicode \u00e9\u4e2d\U0001f600", "'single'", '"""', "#not a comment", "[not a table]"]


@pytest.mark.parametrize("value", TRICKY)
def test_string_escaping_round_trips(value):
    text = R.dumps({"key": value, "odd key.with dots": value})
    assert tomllib.loads(text) == {"key": value, "odd key.with dots": value}
    assert R.loads_builtin(text) == {"key": value, "odd key.with dots": value}


def test_emitter_structure():
    doc = {"top": 1, "flag": True, "list": ["a", "b"], "registry": [
        {"prefix": "a", "mirror": [{"location": "m1"}, {"location": "m2"}]},
        {"prefix": "b"},
    ], "table": {"x": "y", "sub": {"z": False}}}
    text = R.dumps(doc)
    assert tomllib.loads(text) == doc
    assert R.loads_builtin(text) == doc
    assert "[[registry.mirror]]" in text and "[table.sub]" in text


def test_emitter_refuses_what_it_cannot_write():
    with pytest.raises(ValueError):
        R.dumps({"x": None})
    with pytest.raises(ValueError):
        R.dumps({"x": float("nan")})


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
    got = R.loads_builtin(text)
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
    with pytest.raises(R.TOMLError):
        R.loads_builtin(text)


def test_builtin_parser_error_position():
    with pytest.raises(R.TOMLError, match=r"duplicate key 'b' \(at line 3, column 1\)"):
        R.loads_builtin("# c\nb = 1\nb = 2\n")


@pytest.mark.parametrize("path", SYSTEM_FILES)
def test_builtin_parser_on_real_files(path):
    assert os.path.exists(path), "%s is shipped by the containers packages (scripts/bootstrap installs them)" % path
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert R.loads_builtin(text) == tomllib.loads(text)


# ------------------------------------------------------------------ render and check


@pytest.mark.parametrize("parser", ["builtin", "tomllib"])
def test_render_and_check_text(parser):
    entries = R.build(pairs=PAIRS, registries=[{"prefix": "*.example.org", "mirrors": [{"location": "m.example.com/org", "pull_from_mirror": "tag-only"}]}])
    text = R.render(entries)
    assert R.is_ours(text)
    assert text.startswith("# Ansible managed by airgap.mirror.registries_conf")
    assert R.check_text(text, entries, "/x.conf", parser=parser) == parser


@pytest.mark.parametrize("parser", ["builtin", "tomllib"])
def test_check_text_catches_differences(parser):
    entries = R.build(pairs=PAIRS)
    text = R.render(entries)
    with pytest.raises(R.RegistriesConfError, match="does not read back"):
        R.check_text(text.replace('insecure = false', 'insecure = false\nblocked = false', 1), entries, "/x.conf", parser)
    with pytest.raises(R.RegistriesConfError, match="does not parse"):
        R.check_text(text + "[[registry]\n", entries, "/x.conf", parser)
    with pytest.raises(R.RegistriesConfError, match="unexpected top-level"):
        R.check_text("short-name-mode = \"enforcing\"\n" + text, entries, "/x.conf", parser)
    with pytest.raises(R.RegistriesConfError, match=r"/x.conf: \[\[registry\]\] #2 \(quay.io\): unknown key"):
        R.check_text(text.replace('mirror-by-digest-only', 'mirror-by-digest-onyl', 1), entries, "/x.conf", parser)


def test_is_ours():
    assert not R.is_ours('[[registry]]\nprefix = "quay.io"\n')
    assert not R.is_ours("# this file is Ansible managed by airgap.mirror.registries_conf\n")


# ------------------------------------------------------------------ other drop-ins


def test_find_conflicts(tmp_path):
    ours = tmp_path / "999-microshift-mirror.conf"
    ours.write_text("ignored: it is ours\n")
    (tmp_path / "50-early.conf").write_text('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n')
    (tmp_path / "zzz-late.conf").write_text('[[registry]]\nlocation = "registry.redhat.io/"\n[[registry]]\nprefix="ghcr.io"\nlocation="ghcr.io"\n')
    (tmp_path / "60-broken.conf").write_text("[[registry]\n")
    (tmp_path / "70-other.toml").write_text('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n')
    (tmp_path / "80-dir.conf").mkdir()
    conflicts, unchecked = R.find_conflicts(str(ours), ["quay.io", "registry.redhat.io", "docker.io"], parser="builtin")
    assert conflicts == [
        {"prefix": "quay.io", "file": str(tmp_path / "50-early.conf"), "winner": str(ours)},
        {"prefix": "registry.redhat.io", "file": str(tmp_path / "zzz-late.conf"), "winner": str(tmp_path / "zzz-late.conf")},
    ]
    assert [u["file"] for u in unchecked] == [str(tmp_path / "60-broken.conf")]
    assert "line 1" in unchecked[0]["reason"]
    early = R.conflict_warning(str(ours), conflicts[0])
    assert "999-microshift-mirror.conf is applied after it" in early and "50-early.conf for quay.io are ignored" in early
    late = R.conflict_warning(str(ours), conflicts[1])
    assert "zzz-late.conf wins" in late and "this file's entry for registry.redhat.io has no effect" in late


def test_find_conflicts_missing_directory(tmp_path):
    assert R.find_conflicts(str(tmp_path / "nope" / "x.conf"), ["quay.io"]) == ([], [])


def test_builtin_parser_differential_against_tomllib():
    """Mutated documents: both parsers accept with the same result, or both refuse."""
    import random

    rnd = random.Random(20261121)
    seeds = [d for d in VALID_DOCS if d] + [R.render(R.build(pairs=PAIRS))]
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
            got = ("ok", R.loads_builtin(text))
        except R.TOMLError:
            got = ("error",)
        if repr(got) != repr(expected):
            disagreements.append(text)
    assert disagreements == []
