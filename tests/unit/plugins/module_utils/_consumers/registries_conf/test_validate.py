import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.model import (
    RegistriesConfError, build,
)
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.render import is_ours, render
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.validate import (
    check_text, validate,
)

PAIRS = [
    {"source": "registry.redhat.io", "mirror": "mirror.example.com:8443"},
    {"source": "quay.io", "mirror": "mirror.example.com:8443"},
]


def _labelled(*tables):
    return [("entry %d" % i, t) for i, t in enumerate(tables)]


def _problem(tables, match):
    with pytest.raises(RegistriesConfError, match=match):
        validate(_labelled(*tables))


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
    with pytest.raises(RegistriesConfError) as info:
        validate(_labelled({"prefix": "mirror"}, {"prefix": "https://x.example.com"}))
    assert "entry 0" in str(info.value) and "entry 1" in str(info.value)


# ------------------------------------------------------------------ emitter and parsers


@pytest.mark.parametrize("parser", ["builtin", "tomllib"])
def test_render_and_check_text(parser):
    entries = build(pairs=PAIRS, registries=[{"prefix": "*.example.org", "mirrors": [{"location": "m.example.com/org", "pull_from_mirror": "tag-only"}]}])
    text = render(entries)
    assert is_ours(text)
    assert text.startswith("# Ansible managed by airgap.mirror.registries_conf")
    assert check_text(text, entries, "/x.conf", parser=parser) == parser


@pytest.mark.parametrize("parser", ["builtin", "tomllib"])
def test_check_text_catches_differences(parser):
    entries = build(pairs=PAIRS)
    text = render(entries)
    with pytest.raises(RegistriesConfError, match="does not read back"):
        check_text(text.replace('insecure = false', 'insecure = false\nblocked = false', 1), entries, "/x.conf", parser)
    with pytest.raises(RegistriesConfError, match="does not parse"):
        check_text(text + "[[registry]\n", entries, "/x.conf", parser)
    with pytest.raises(RegistriesConfError, match="unexpected top-level"):
        check_text("short-name-mode = \"enforcing\"\n" + text, entries, "/x.conf", parser)
    with pytest.raises(RegistriesConfError, match=r"/x.conf: \[\[registry\]\] #2 \(quay.io\): unknown key"):
        check_text(text.replace('mirror-by-digest-only', 'mirror-by-digest-onyl', 1), entries, "/x.conf", parser)
