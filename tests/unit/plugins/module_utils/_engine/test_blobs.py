import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.blobs import Counting, SourceCursor, SourceError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import Stats
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError

BLOB = bytes(range(256)) * 4


class Source:
    """A blob source that records where it was opened and whether it was closed."""

    def __init__(self, data=BLOB, chunk=100):
        self.data = data
        self.chunk = chunk
        self.opened = []
        self.closed = 0

    def __call__(self, offset):
        self.opened.append(offset)
        source = self

        class Stream:
            def __iter__(self):
                for start in range(offset, len(source.data), source.chunk):
                    yield source.data[start:start + source.chunk]

            def close(self):
                source.closed += 1

        return Stream()


def test_cursor_serves_consecutive_chunks_from_one_stream():
    source = Source()
    cursor = SourceCursor(source)
    parts = [b"".join(cursor.take(offset, 300)) for offset in (0, 300, 600)] + [b"".join(cursor.take(900, 124))]
    assert b"".join(parts) == BLOB
    assert source.opened == [0]
    cursor.close()
    assert source.closed == 1


def test_cursor_reopens_where_a_request_does_not_continue():
    source = Source()
    cursor = SourceCursor(source)
    assert b"".join(cursor.take(0, 150)) == BLOB[:150]
    assert b"".join(cursor.take(50, 10)) == BLOB[50:60]  # a retry of an earlier range
    assert source.opened == [0, 50] and source.closed == 1
    assert list(cursor.take(60, 0)) == []


def test_cursor_reports_a_short_source_as_a_source_error():
    cursor = SourceCursor(Source(data=BLOB[:10]))
    with pytest.raises(SourceError) as info:
        b"".join(cursor.take(0, 20))
    assert isinstance(info.value.error, OCIError) and "ended 10 bytes early" in str(info.value)


def test_counting_counts_uploaded_bytes():
    stats = Stats()
    assert b"".join(Counting([b"ab", b"cde"], stats)) == b"abcde"
    assert stats.as_dict()["bytes_uploaded"] == 5


def test_prime_opens_the_source_before_the_upload_and_take_continues_from_it():
    source = Source()
    cursor = SourceCursor(source)
    cursor.prime(0)
    assert source.opened == [0]  # opened (and its first chunk read) before any byte is asked for
    assert b"".join(cursor.take(0, 500)) == BLOB[:500]
    cursor.prime(500)  # continues where it stopped: not opened again
    assert b"".join(cursor.take(500, len(BLOB) - 500)) == BLOB[500:]
    assert source.opened == [0]
    cursor.prime(100)  # another offset: opened again there
    assert source.opened == [0, 100] and b"".join(cursor.take(100, 50)) == BLOB[100:150]
    cursor.close()


def test_prime_wraps_a_source_error():
    def failing(offset):
        def gen():
            if offset == 0:
                raise OCIError("source gone")
            yield b""
        return gen()

    with pytest.raises(SourceError):
        SourceCursor(failing).prime(0)
