"""A registry's connections are split into small pools, one per group of threads (transport.py)."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import ClientOptions
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.transport import Transport, shard_sizes


@pytest.mark.parametrize("connections, expected", [
    (1, (1, 1)), (4, (1, 4)), (7, (1, 7)), (8, (2, 4)), (16, (4, 4)), (32, (8, 4)), (33, (8, 5)),
])
def test_the_connections_are_split_into_pools_of_about_four(connections: int, expected: tuple[int, int]) -> None:
    pools, each = shard_sizes(connections)
    assert (pools, each) == expected
    assert pools * each >= connections  # never fewer connections than asked for
    assert pools * (each - 1) < connections  # and at most one more per pool


def test_threads_are_dealt_to_the_pools_in_turn_and_keep_theirs() -> None:
    transport = Transport("127.0.0.1:1", ClientOptions.build(max_connections=16))
    try:
        picked: list[object] = []
        again: list[bool] = []
        lock = threading.Lock()

        def work() -> None:
            first = transport._pick()  # pylint: disable=protected-access
            with lock:
                picked.append(first)
                again.append(transport._pick() is first)  # pylint: disable=protected-access

        threads = [threading.Thread(target=work) for _n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(again)
        assert len({id(c) for c in picked}) == 4
        assert sorted([sum(1 for c in picked if c is p) for p in set(picked)]) == [2, 2, 2, 2]
    finally:
        transport.close()
