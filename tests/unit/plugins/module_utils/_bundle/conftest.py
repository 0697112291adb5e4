"""Fixtures of the bundle tests."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mapio

from support import images as I

from .helpers import KiB, map_entry


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The demo's sample set plus an image with a 300 KiB layer (parts of 64 KiB split inside it)."""
    samples = I.sample_set(tmp_path_factory.mktemp("src") / "layout")
    big = I.build_large_image(samples.layout, "large", size=300 * KiB, seed=7)
    images = dict(samples.images)
    images["large"] = big
    return samples.layout.path, images


@pytest.fixture
def releases(tmp_path):
    """A cumulative connected-side layout with two releases sharing a 400 KiB base layer."""
    layout = I.OCILayout(tmp_path / "connected")
    base = I.add_large_layer(layout, 400 * KiB, seed=1)
    r1 = {
        "example.com/app:1": I.build_image(layout, "example.com/app:1", layers=[base, {"app": "1"}]),
        "example.com/tool:1": I.build_image(layout, "example.com/tool:1", layers=[base, {"tool": "1"}]),
    }
    r2 = {
        "example.com/app:2": I.build_image(layout, "example.com/app:2", layers=[base, {"app": "2"}]),
        "example.com/tool:1": r1["example.com/tool:1"],
    }
    for name, images in (("map1.yml", r1), ("map2.yml", r2)):
        entries = [map_entry(ref, img, "oci:%s:%s" % (layout.path, ref)) for ref, img in images.items()]
        (tmp_path / name).write_text(mapio.dumps(entries))
    return layout, r1, r2, base
