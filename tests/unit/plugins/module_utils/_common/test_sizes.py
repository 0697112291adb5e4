"""The one size parser and printer (plugins/module_utils/_common/sizes.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.sizes import human_size, parse_size


@pytest.mark.parametrize("text, expected", [
    (65536, 65536),
    ("65536", 65536),
    ("512B", 512),
    ("64K", 64 << 10),
    ("64k", 64 << 10),
    ("64M", 64 << 20),
    ("64MiB", 64 << 20),
    ("64Mi", 64 << 20),
    ("4G", 4 << 30),
    ("4GiB", 4 << 30),
    ("4gib", 4 << 30),
    ("4GB", 4 * 10 ** 9),
    ("4gb", 4 * 10 ** 9),
    ("4095M", 4095 << 20),
    ("1.5G", 3 << 29),
    (" 2 T ", 2 << 40),
    ("1PB", 10 ** 15),
])
def test_binary_units_are_powers_of_1024_and_kb_mb_gb_of_1000(text, expected) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "G", "4X", "-1M", "4 G B", "1e6", "four"])
def test_what_is_not_a_size_is_refused_naming_the_option(text) -> None:
    with pytest.raises(ValueError, match="part_size: .* is not a size"):
        parse_size(text, "part_size")


def test_a_bool_is_not_a_size() -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(True)


def test_the_minimum_is_enforced_and_printed() -> None:
    with pytest.raises(ValueError, match=r"upload_chunk_size must be at least 1.0 KiB \(got '512'\)"):
        parse_size("512", "upload_chunk_size", minimum=1024)
    assert parse_size("1K", "upload_chunk_size", minimum=1024) == 1024


@pytest.mark.parametrize("size, text", [
    (0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (3 << 29, "1.5 GiB"), (5 << 40, "5.0 TiB"),
    (2 << 50, "2.0 PiB"),
])
def test_human_size(size, text) -> None:
    assert human_size(size) == text
