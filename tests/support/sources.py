"""Vendor image-list fixtures for the ``_sources`` tests (tests/unit/fixtures/sources)."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit", "fixtures", "sources")


def fixture(name: str) -> str:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def slurp(name: str, source: str | None = None) -> dict[str, Any]:
    """What ansible.builtin.slurp returns for a file."""
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        content = base64.b64encode(handle.read()).decode("ascii")
    return {"content": content, "encoding": "base64", "source": source or "/usr/share/microshift/release/" + name}


def jq_images(name: str) -> list[str]:
    """The seed's `jq -r '.images | .[]'`, computed with the json module."""
    return list(json.loads(fixture(name))["images"].values())
