import difflib
import os

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._common import yamledit as Y
from ansible_collections.airgap.mirror.plugins.module_utils._common.yamledit import edit as YE

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "fixtures", "products")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def edit(text, key, value=None, state="present", **kw):
    return Y.edit_text(text, key, value, state=state, **kw)


def changed_lines(old, new):
    """(removed lines, added lines) between two texts."""
    removed, added = [], []
    for line in difflib.ndiff(old.splitlines(True), new.splitlines(True)):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


# -- kibana.yml, dotted form ------------------------------------------------------------------

def test_insert_into_dotted_kibana_goes_next_to_its_siblings_and_touches_nothing_else():
    old = fixture("kibana-dotted.yml")
    new, details = edit(old, "xpack.fleet.registryUrl", "http://package-registry.corp.net:8080")
    assert details == {"changed": True, "occurrences": 0, "action": "inserted"}
    removed, added = changed_lines(old, new)
    assert removed == []
    assert added == ["xpack.fleet.registryUrl: http://package-registry.corp.net:8080\n"]
    lines = new.splitlines()
    # right after the other xpack.fleet setting (with its trailing comment intact)
    at = lines.index("xpack.fleet.registryUrl: http://package-registry.corp.net:8080")
    assert lines[at - 1] == "xpack.fleet.agents.enabled: true   # agents are managed by Fleet"
    assert yaml.safe_load(new)["xpack.fleet.registryUrl"] == "http://package-registry.corp.net:8080"


def test_set_existing_dotted_key_changes_only_its_value():
    old = fixture("kibana-dotted.yml")
    new, details = edit(old, "server.port", 5602)
    assert details["action"] == "set" and details["occurrences"] == 1
    assert changed_lines(old, new) == (["server.port: 5601\n"], ["server.port: 5602\n"])


def test_quoting_style_of_the_replaced_value_is_kept():
    old = fixture("kibana-dotted.yml")
    new, _details = edit(old, "server.host", "127.0.0.1")
    assert changed_lines(old, new) == (['server.host: "0.0.0.0"\n'], ['server.host: "127.0.0.1"\n'])
    new, _details = edit(old, "xpack.encryptedSavedObjects.encryptionKey", "it's-32-characters-long-string-x")
    assert "xpack.encryptedSavedObjects.encryptionKey: 'it''s-32-characters-long-string-x'\n" in new


def test_trailing_comment_survives_a_value_change():
    old = fixture("kibana-dotted.yml")
    new, _details = edit(old, "xpack.fleet.agents.enabled", False)
    assert "xpack.fleet.agents.enabled: false   # agents are managed by Fleet\n" in new


def test_second_run_is_a_no_op_and_returns_the_same_text():
    old = fixture("kibana-dotted.yml")
    once, first = edit(old, "xpack.fleet.registryUrl", "http://epr:8080")
    twice, second = edit(once, "xpack.fleet.registryUrl", "http://epr:8080")
    assert first["changed"] and not second["changed"]
    assert twice == once and second["action"] == "none" and second["occurrences"] == 1


def test_value_written_differently_is_not_rewritten():
    text = "a: 'x'\nb: \"1\"\n"
    assert edit(text, "a", "x") == (text, {"changed": False, "occurrences": 1, "action": "none"})
    # a string "1" is not the integer 1
    new, details = edit(text, "b", 1)
    assert details["changed"] and new == "a: 'x'\nb: 1\n"


def test_remove_dotted_key_removes_its_line_only():
    old = fixture("kibana-dotted.yml")
    new, details = edit(old, "xpack.fleet.agents.enabled", state="absent")
    assert details["action"] == "removed"
    assert changed_lines(old, new) == (
        ["xpack.fleet.agents.enabled: true   # agents are managed by Fleet\n"], [])
    again, details = edit(new, "xpack.fleet.agents.enabled", state="absent")
    assert again == new and not details["changed"]


def test_commented_out_setting_is_not_mistaken_for_the_key():
    old = fixture("kibana-dotted.yml")
    assert Y.get_values(old, "xpack.fleet.registryProxyUrl") == []
    assert Y.get_values(old, "server.name") == []


def test_kibana_default_file_style_comments_and_spacing_are_kept():
    # the stock kibana.yml comments settings out without a space and pads flow sequences
    old = ('#server.port: 5601\n#xpack.fleet.registryUrl: "https://epr.elastic.co"\n'
           'elasticsearch.hosts: [ "http://localhost:9200" ]\n')
    new, details = edit(old, "xpack.fleet.registryUrl", "http://epr:8080")
    assert details["occurrences"] == 0
    assert new == old + "xpack.fleet.registryUrl: http://epr:8080\n"
    new, _details = edit(old, "server.port", 5602)
    assert new == old + "server.port: 5602\n"


def test_nested_part_of_a_dotted_file_is_edited_in_place():
    old = fixture("kibana-dotted.yml")
    new, _details = edit(old, "logging.appenders.file.layout.type", "pattern")
    assert changed_lines(old, new) == (["        type: json\n"], ["        type: pattern\n"])
    new, _details = edit(old, "logging.appenders.file.fileName", "/srv/kibana.log")
    assert "      fileName: /srv/kibana.log\n" in new


# -- kibana.yml, nested form ------------------------------------------------------------------

def test_insert_into_nested_kibana_uses_the_nested_form():
    old = fixture("kibana-nested.yml")
    new, details = edit(old, "xpack.fleet.registryUrl", "http://package-registry.corp.net:8080")
    assert details["action"] == "inserted"
    removed, added = changed_lines(old, new)
    assert removed == [] and added == ["    registryUrl: http://package-registry.corp.net:8080\n"]
    assert yaml.safe_load(new)["xpack"]["fleet"]["registryUrl"] == "http://package-registry.corp.net:8080"
    # the other fleet setting and the comment are still where they were
    assert "    agents:\n      enabled: true\n    registryUrl: http://package-registry" in new
    assert "    # registryUrl: https://epr.elastic.co\n" in new


def test_insert_deeper_under_an_existing_prefix_creates_the_missing_levels():
    old = fixture("kibana-nested.yml")
    new, _details = edit(old, "xpack.security.session.idleTimeout", "1h")
    removed, added = changed_lines(old, new)
    assert removed == []
    assert added == ["  security:\n", "    session:\n", "      idleTimeout: 1h\n"]
    assert yaml.safe_load(new)["xpack"]["security"] == {"session": {"idleTimeout": "1h"}}


def test_key_without_any_prefix_in_a_nested_file_is_appended_dotted():
    old = fixture("kibana-nested.yml")
    new, _details = edit(old, "monitoring.ui.enabled", False)
    assert new == old + "monitoring.ui.enabled: false\n"
    nested, _details = edit(old, "monitoring.ui.enabled", False, insert_style="nested")
    assert nested == old + "monitoring:\n  ui:\n    enabled: false\n"


def test_remove_prunes_parents_left_empty():
    old = fixture("kibana-nested.yml")
    new, _details = edit(old, "xpack.reporting.roles.enabled", state="absent")
    removed, added = changed_lines(old, new)
    assert added == [] and removed == ["  reporting:\n", "    roles:\n", "      enabled: false\n"]
    assert yaml.safe_load(new)["xpack"] == {"fleet": {"agents": {"enabled": True}}}


def test_set_in_flow_sequence_holder_and_block_sequence():
    old = fixture("kibana-nested.yml")
    new, _details = edit(old, "elasticsearch.hosts", ["https://es01:9200", "https://es02:9200"])
    removed, added = changed_lines(old, new)
    assert added == ["  hosts: [https://es01:9200, https://es02:9200]\n"]
    assert removed == ["  hosts:\n", "    - https://es01.corp.net:9200\n"]
    new, _details = edit(old, "elasticsearch.ssl.certificateAuthorities", ["/a.crt"])
    assert "    certificateAuthorities: [/a.crt]\n" in new


def test_setting_written_in_both_forms_is_changed_everywhere():
    text = "xpack.fleet.registryUrl: http://a\nxpack:\n  fleet:\n    registryUrl: http://b\n"
    new, details = edit(text, "xpack.fleet.registryUrl", "http://c")
    assert details["occurrences"] == 2
    assert new == "xpack.fleet.registryUrl: http://c\nxpack:\n  fleet:\n    registryUrl: http://c\n"
    gone, _details = edit(text, "xpack.fleet.registryUrl", state="absent")
    assert gone == ""


def test_mixed_form_dotted_key_inside_nested_mapping():
    text = "xpack:\n  fleet.agents.enabled: true\n"
    new, _details = edit(text, "xpack.fleet.registryUrl", "http://epr")
    assert new == "xpack:\n  fleet.agents.enabled: true\n  fleet.registryUrl: http://epr\n"
    assert Y.get_values(new, "xpack.fleet.registryUrl") == ["http://epr"]


def test_indentation_step_of_the_file_is_used():
    text = "server:\n    port: 1\n"
    new, _details = edit(text, "server.ssl.enabled", True)
    assert new == "server:\n    port: 1\n    ssl:\n        enabled: true\n"


# -- values -----------------------------------------------------------------------------------

TRICKY = [
    "", " lead", "trail ", "a: b", "#x", "- x", "true", "yes", "on", "~", "null", "1e3", "0o17",
    "0x1F", "010", "1_000", "1.10", ":x", "x:", "@x", "`x", "%x", "a #b", "[x]", "{x}", "x,y",
    "line\nbreak", "tab\tin", "é ü 日本", "\u2028", "\x7f", "\x85", "---", "...", "<<", "*a", "&a",
    "!tag", "'q'", '"dq"', "back\\slash", "2001-12-14", "12:30:00", "\x00\x1b", "\ud7ff\ue000",
    "http://host:8080/path?q=1#frag",
]


@pytest.mark.parametrize("value", TRICKY)
def test_strings_read_back_exactly(value):
    for base in ("key: old\n", "key: 'old'\n", 'key: "old"\n', "other: 1\n"):
        new, details = edit(base, "key", value)
        assert details["changed"]
        assert yaml.safe_load(new)["key"] == value
        assert Y.get_values(new, "key") == [value]
        assert edit(new, "key", value)[1]["changed"] is False


@pytest.mark.parametrize("value", [True, False, 0, -7, 5601, 1.5, 1e20, -0.25, ["a", 1, True, None, "x,y"], []])
def test_typed_values_read_back_with_their_type(value):
    new, _details = edit("key: old\n", "key", value)
    got = yaml.safe_load(new)["key"]
    assert got == value and type(got) is type(value)


def test_plain_strings_stay_plain_and_ambiguous_ones_are_quoted():
    assert Y.render_scalar("http://epr:8080") == "http://epr:8080"
    assert Y.render_scalar("1.10") == '"1.10"'
    assert Y.render_scalar("yes") == '"yes"'
    assert Y.render_scalar("y") == '"y"'  # a boolean in YAML 1.1, quoted for every reader
    assert Y.render_scalar("0o17") == '"0o17"'
    assert Y.render_scalar("x,y", flow=True) == '"x,y"'
    assert Y.render_scalar("line\nbreak") == '"line\\nbreak"'


def test_mapping_value_is_refused():
    with pytest.raises(Y.YAMLEditError, match="mapping cannot be set"):
        edit("a: 1\n", "a", {"b": 1})


def test_block_scalar_is_replaced_and_following_lines_kept():
    text = "a: |\n  text\n  more\n\n# c\nb: 1\n"
    new, _details = edit(text, "a", "x")
    assert new == "a: x\n\n# c\nb: 1\n"


def test_empty_value_gets_a_value_after_the_colon():
    assert edit("a:\nb: 1\n", "a", "v")[0] == "a: v\nb: 1\n"
    assert edit("a: # note\nb: 1\n", "a", "v")[0] == "a: v # note\nb: 1\n"


# -- files of unusual shape -------------------------------------------------------------------

def test_empty_and_comment_only_files():
    assert edit("", "a.b", "v")[0] == "a.b: v\n"
    assert edit("# only a comment", "a.b", "v")[0] == "# only a comment\na.b: v\n"
    assert edit("# c\n", "a.b", "v", dotted_keys=False)[0] == "# c\na:\n  b: v\n"


def test_crlf_and_bom_are_kept():
    text = "\ufeffserver.port: 5601\r\nlogging:\r\n  root:\r\n    level: info\r\n"
    new, _details = edit(text, "logging.root.appenders", ["default"])
    assert new == text + "    appenders: [default]\r\n"
    new, _details = edit(text, "server.port", 1)
    assert new == text.replace("5601", "1")


def test_insert_before_an_explicit_document_end():
    assert edit("---\na: 1\n...\n", "b", 2)[0] == "---\na: 1\nb: 2\n...\n"


def test_file_without_final_newline():
    assert edit("a: x", "b", "z")[0] == "a: x\nb: z\n"
    assert edit("a:\n  b: x", "a.c", "z")[0] == "a:\n  b: x\n  c: z\n"


def test_flow_mapping_scalar_can_be_set_but_not_extended():
    new, _details = edit("a: {b: 1, c: 2}\n", "a.b", "x, y")
    assert new == 'a: {b: "x, y", c: 2}\n'
    with pytest.raises(Y.YAMLEditError, match="flow mapping"):
        edit("a: {b: 1}\n", "a.d", "x")
    with pytest.raises(Y.YAMLEditError, match="flow mapping"):
        edit("a: {b: 1, c: 2}\n", "a.b", state="absent")


def test_dotted_keys_false_treats_dots_as_part_of_the_key():
    text = "spec:\n  install: {}\n"
    with pytest.raises(Y.YAMLEditError, match="flow mapping"):
        edit(text, "spec.install.x", "v", dotted_keys=False)
    text = "a.b: 1\nspec:\n  name: x\n"
    new, _details = edit(text, ["a.b"], 2, dotted_keys=False)
    assert new == "a.b: 2\nspec:\n  name: x\n"
    new, _details = edit(text, "spec.install.imagesDigestsConfigMap", "cm", dotted_keys=False)
    assert new == text + "  install:\n    imagesDigestsConfigMap: cm\n"
    assert Y.get_values(text, "a.b", dotted_keys=False) == []


@pytest.mark.parametrize(
    "text, key, message",
    [
        ("a: 1\n---\nb: 2\n", "a", "2 YAML documents"),
        ("- a\n- b\n", "a", "is a list"),
        ("just a scalar\n", "a", "is a scalar"),
        ("a: [\n", "a", "not valid YAML"),
        ("base: &x {a: 1}\nb: *x\n", "b.a", "anchor"),
        ("base: &x\n  a: 1\nb:\n  <<: *x\n  c: 2\n", "b.a", "merge key"),
        ("a: &x 1\nb: *x\n", "a", "anchor"),
        ("xpack.fleet: off\n", "xpack.fleet.registryUrl", "collides"),
        ("xpack:\n  fleet:\n    registryUrl: x\n", "xpack.fleet", "holds a mapping"),
        ("xpack.fleet.registryUrl: x\n", "xpack.fleet", "collides"),
        ("a:\n", "a.b", "collides"),
    ],
)
def test_refusals_name_the_problem(text, key, message):
    with pytest.raises(Y.YAMLEditError, match=message):
        edit(text, key, "v")


def test_absent_of_a_prefix_with_separately_written_subkeys_is_refused():
    text = "xpack:\n  fleet:\n    a: 1\nxpack.fleet.b: 2\n"
    with pytest.raises(Y.YAMLEditError, match="xpack.fleet.b"):
        edit(text, "xpack.fleet", state="absent")
    # without the extra key the whole subtree goes
    assert edit("xpack:\n  fleet:\n    a: 1\nz: 1\n", "xpack.fleet", state="absent")[0] == "z: 1\n"


def test_remove_of_an_alias_is_refused():
    with pytest.raises(Y.YAMLEditError, match="anchor"):
        edit("a: &x 1\nb: *x\n", "b", state="absent")


def test_errors_name_file_and_line():
    with pytest.raises(Y.YAMLEditError) as info:
        edit("a: 1\n---\nb: 2\n", "a", 1, origin="/etc/kibana/kibana.yml")
    assert "/etc/kibana/kibana.yml" in str(info.value) and "line 2" in str(info.value)


def test_the_safety_net_rejects_an_edit_that_changes_another_setting():
    doc = Y.YAMLDocument("a: 1\nb: 2\n")
    with pytest.raises(Y.YAMLEditError, match="would also change b"):
        YE._verify(doc, "a: 5\nb: 3\n", ["a"], 5, True)
    with pytest.raises(Y.YAMLEditError, match="does not read back"):
        YE._verify(doc, "a: '5'\nb: 2\n", ["a"], 5, True)
    with pytest.raises(Y.YAMLEditError, match="would not be valid"):
        YE._verify(doc, "a: [5\nb: 2\n", ["a"], 5, True)
    with pytest.raises(Y.YAMLEditError, match="still present"):
        YE._verify(doc, "a: 1\nb: 2\n", ["a"], None, False)


def test_every_edit_of_the_fixtures_keeps_all_other_settings():
    # exhaustively: set and remove each leaf of both kibana fixtures
    for name in ("kibana-dotted.yml", "kibana-nested.yml"):
        text = fixture(name)
        doc = Y.YAMLDocument(text)
        for path in doc._flatten():
            key = list(path)
            new, details = edit(text, key, "changed-value")
            assert details["changed"], (name, path)
            assert Y.get_values(new, key) == ["changed-value"]
            gone, details = edit(text, key, state="absent")
            assert details["changed"] and Y.get_values(gone, key) == [], (name, path)
