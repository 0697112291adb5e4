# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that read vendor image lists into normalized image references.

The documentation of each filter is in the ``<filter name>.yml`` file next to this one; the
readers themselves are in ``plugins/module_utils/_sources.py``.
"""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.module_utils._sources import read as _sources
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError


def _reports(name):
    """Turn reader errors into AnsibleFilterError naming the filter, file, line and entry."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except OCIError as exc:
                raise AnsibleFilterError("airgap.mirror.%s: %s" % (name, exc)) from None

        return wrapper

    return decorate


def _bool(value, option):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise AnsibleFilterError("option %s must be a boolean, got %r" % (option, value))


@_reports("microshift_release_images")
def microshift_release_images(data, extra=None, records=False, source_name=None, default_tag=_sources.DEFAULT_TAG):
    if _bool(records, "records"):
        if extra:
            raise AnsibleFilterError("airgap.mirror.microshift_release_images: extra cannot be combined "
                                     "with records=true (extra references have no release entry)")
        return _sources.microshift_release_records(data, source_name)
    return _sources.read_microshift_release(data, source_name, extra=extra, default_tag=default_tag)


@_reports("ess_images")
def ess_images(data, records=False, source_name=None):
    if _bool(records, "records"):
        return _sources.ess_image_records(data, source_name)
    return _sources.read_ess_images(data, source_name)


@_reports("elastic_images")
def elastic_images(stack_version, eck_version=None, include=None, exclude=None,
                   registry=_sources.ELASTIC_REGISTRY, container_repository=None, ubi_only=False,
                   container_suffix=None, fips=False, package_registry_tag="production",
                   support_diagnostics_version=None, records=False):
    records_ = _sources.elastic_image_records(
        stack_version, eck_version=eck_version, include=include, exclude=exclude, registry=registry,
        container_repository=container_repository, ubi_only=_bool(ubi_only, "ubi_only"),
        container_suffix=container_suffix, fips=_bool(fips, "fips"),
        package_registry_tag=package_registry_tag, support_diagnostics_version=support_diagnostics_version)
    if _bool(records, "records"):
        return records_
    return _sources.unique_sources(records_)


@_reports("skopeo_sync_images")
def skopeo_sync_images(data, source_name=None):
    return _sources.read_skopeo_sync(data, source_name)


@_reports("parse_image_list")
def parse_image_list(data, source_name=None, default_tag=_sources.DEFAULT_TAG):
    return _sources.read_image_list(data, source_name, default_tag=default_tag)


@_reports("query_images")
def query_images(data, query, source_name=None, default_tag=_sources.DEFAULT_TAG):
    return _sources.query_images(data, query, source_name, default_tag=default_tag)


class FilterModule:
    """airgap.mirror image-list filters."""

    def filters(self):
        return {
            "microshift_release_images": microshift_release_images,
            "ess_images": ess_images,
            "elastic_images": elastic_images,
            "skopeo_sync_images": skopeo_sync_images,
            "parse_image_list": parse_image_list,
            "query_images": query_images,
        }
