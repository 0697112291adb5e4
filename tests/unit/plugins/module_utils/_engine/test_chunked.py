from ansible_collections.airgap.mirror.plugins.module_utils._engine import chunked as C


def test_range_end():
    assert C.range_end("0-1023") == 1023
    assert C.range_end("bytes=0-9") == 9
    assert C.range_end(None) == -1


def test_exact_offset_refuses_the_ambiguous_answer():
    """distribution answers ``0-0`` for an empty session and after one byte: not an offset."""
    assert C.exact_offset("0-0") is None
    assert C.exact_offset(None) is None and C.exact_offset("garbage") is None
    assert C.exact_offset("0-1") == 2
    assert C.exact_offset("0-67108863") == 64 * 1024 * 1024
