# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that read vendor image lists into normalized image references.

The documentation of each filter is in the ``<filter name>.yml`` file next to this one; the
readers themselves are in ``plugins/module_utils/_sources/`` (the Elastic Stack catalog in
``plugins/module_utils/_products/elastic_catalog.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.module_utils._products import elastic_catalog as _catalog
from ansible_collections.airgap.mirror.plugins.module_utils._sources import ess_images as _ess_images
from ansible_collections.airgap.mirror.plugins.module_utils._sources import microshift as _microshift
from ansible_collections.airgap.mirror.plugins.module_utils._sources import plain_list as _plain_list
from ansible_collections.airgap.mirror.plugins.module_utils._sources import query as _query
from ansible_collections.airgap.mirror.plugins.module_utils._sources import skopeo_sync as _skopeo_sync
from ansible_collections.airgap.mirror.plugins.module_utils._sources.documents import DEFAULT_TAG
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


def _bool(value: Any, option: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise AnsibleFilterError("option %s must be a boolean, got %r" % (option, value))


@reported(name="airgap.mirror.microshift_release_images")
def microshift_release_images(data: Any, extra: Any = None, records: Any = False, source_name: Any = None,
                              default_tag: str | None = DEFAULT_TAG) -> list[Any]:
    if _bool(records, "records"):
        if extra:
            raise AnsibleFilterError("airgap.mirror.microshift_release_images: extra cannot be combined "
                                     "with records=true (extra references have no release entry)")
        return _microshift.microshift_release_records(data, source_name)
    return _microshift.read_microshift_release(data, source_name, extra=extra, default_tag=default_tag)


@reported(name="airgap.mirror.ess_images")
def ess_images(data: Any, records: Any = False, source_name: str | None = None) -> list[Any]:
    if _bool(records, "records"):
        return _ess_images.ess_image_records(data, source_name)
    return _ess_images.read_ess_images(data, source_name)


@reported(name="airgap.mirror.elastic_images")
def elastic_images(stack_version: Any, eck_version: Any = None, include: Any = None, exclude: Any = None,
                   registry: Any = _catalog.ELASTIC_REGISTRY, container_repository: Any = None, ubi_only: Any = False,
                   container_suffix: Any = None, fips: Any = False, package_registry_tag: Any = None,
                   support_diagnostics_version: Any = None, records: Any = False) -> list[Any]:
    records_ = _catalog.elastic_image_records(
        stack_version, eck_version=eck_version, include=include, exclude=exclude, registry=registry,
        container_repository=container_repository, ubi_only=_bool(ubi_only, "ubi_only"),
        container_suffix=container_suffix, fips=_bool(fips, "fips"),
        package_registry_tag=package_registry_tag, support_diagnostics_version=support_diagnostics_version)
    if _bool(records, "records"):
        return records_
    return _catalog.unique_sources(records_)


@reported(name="airgap.mirror.skopeo_sync_images")
def skopeo_sync_images(data: Any, source_name: str | None = None) -> list[Any]:
    return _skopeo_sync.read_skopeo_sync(data, source_name)


@reported(name="airgap.mirror.parse_image_list")
def parse_image_list(data: Any, source_name: str | None = None, default_tag: str | None = DEFAULT_TAG) -> list[str]:
    return _plain_list.read_image_list(data, source_name, default_tag=default_tag)


@reported(name="airgap.mirror.query_images")
def query_images(data: Any, query: Any, source_name: str | None = None,
                 default_tag: str | None = DEFAULT_TAG) -> list[str]:
    return _query.query_images(data, query, source_name, default_tag=default_tag)


class FilterModule:
    """airgap.mirror image-list filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "microshift_release_images": microshift_release_images,
            "ess_images": ess_images,
            "elastic_images": elastic_images,
            "skopeo_sync_images": skopeo_sync_images,
            "parse_image_list": parse_image_list,
            "query_images": query_images,
        }
