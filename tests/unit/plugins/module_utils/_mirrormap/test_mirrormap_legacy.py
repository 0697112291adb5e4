import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import legacy as MM
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D = "sha256:" + "ef" * 32


def _entry(src="quay.io/org/app:1"):
    return MM.make_entry(R.parse(src), D, "application/vnd.oci.image.index.v1+json",
                         ["linux/amd64", "linux/arm64"], 42, "mirror:5000/org/app:1")


def test_round_trip_is_stable():
    entries = [_entry("quay.io/org/b:1"), _entry("quay.io/org/a:1")]
    text = MM.dumps(entries)
    assert text == MM.dumps(list(reversed(entries)))
    back = MM.loads(text)
    assert [e["source"] for e in back] == ["quay.io/org/a:1", "quay.io/org/b:1"]
    assert back[0]["source_tag"] == "1" and back[0]["size"] == 42


@pytest.mark.parametrize(
    "text, message",
    [
        ("images: {}", "expected a mapping with an 'images' list"),
        ("format: other/v9\nimages: []", "unsupported format"),
        ("images:\n- source: quay.io/a:1\n", "images[0] (quay.io/a:1): missing digest"),
        ("images:\n- source: quay.io/A:1\n  digest: %s\n  media_type: x\n  destination: m/a:1\n" % D,
         "images[0]"),
        ("images: [", "not valid YAML"),
    ],
)
def test_errors_name_file_and_entry(text, message):
    with pytest.raises(MM.MirrorMapError) as info:
        MM.loads(text, origin="map.yml")
    assert "map.yml" in str(info.value) and message in str(info.value)
