"""ECK test data: the operator fixtures, upstream sources and mirror maps of them, and plans."""

from __future__ import annotations

import json
import os
from typing import Any

import jsonschema
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as IMAGES
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import plan as PLAN
from support import mirror_maps

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit", "fixtures", "products")
MIRROR = "mirror.example.com:5000"
V = "8.16.1"
KINDS = ("Elasticsearch", "Kibana", "APM Server", "filebeat", "Elastic Agent", "Maps", "Logstash")


def load_all(name: str) -> list[dict[str, Any]]:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return list(yaml.safe_load(handle)["items"])


def mirror_map(sources: list[str], dest: str = MIRROR, mode: str = "keep") -> str:
    return mirror_maps.mirror_map(sources, dest=dest, mode=mode, platforms=["linux/amd64", "linux/arm64"],
                                  digests={text: "sha256:%064x" % (i + 1) for i, text in enumerate(sources)})


def sources(kinds: Any = KINDS, version: str = V, eck_version: str | None = "2.16.1", **kw: Any) -> list[str]:
    return [s["source"] for s in IMAGES.required_sources(version, kinds, eck_version=eck_version, **kw)]


def make_plan(mirror_map_text: Any, stack_version: str, kinds: Any = (), **kw: Any) -> dict[str, Any]:
    """``eck.plan.plan`` with the options as keywords (as the eck_plan filter takes them)."""
    for key in ("pull_secrets", "resources"):
        if key in kw:
            kw[key] = tuple(kw[key])
    return PLAN.plan(mirror_map_text, PLAN.PlanOptions(stack_version=stack_version, kinds=tuple(kinds), **kw))


def strict(schema: Any) -> Any:
    """The CRD schema as the API server prunes it, made strict: an unknown field is an error."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_validate(obj: dict[str, Any], name: str) -> None:
    """*obj* against the CRD schema fixture *name* (ECK's openAPIV3Schema as installed, strict):
    kubernetes-validate has no custom resource schemas."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        crd = json.load(handle)
    assert obj["apiVersion"] == "%s/%s" % (crd["group"], crd["version"]) and obj["kind"] == crd["kind"]
    jsonschema.validate(obj, strict(crd["schema"]))
