import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import (Limits, MirrorRequest, Naming,
                                                                                    Sharding, State)
from ansible_collections.airgap.mirror.plugins.module_utils._engine.shard import Shard
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import MirrorMap


def test_defaults_are_the_modules():
    request = MirrorRequest(["quay.io/a/b:1"], "mirror:5000")
    assert request.images == ("quay.io/a/b:1",)
    assert request.naming == Naming("keep", {}, "deterministic", None)
    assert request.limits == Limits(8, True) and request.sharding == Sharding(None, 60.0)
    assert request.attachments and not request.verify and not request.check_mode and request.lock is None


def test_the_lockfile_is_not_used_to_verify_or_by_workers():
    lock = MirrorMap()
    assert MirrorRequest([], "m", state=State(lock=lock)).lock is lock
    assert MirrorRequest([], "m", state=State(lock=lock), verify=True).lock is None
    assert MirrorRequest([], "m", state=State(lock=lock), sharding=Sharding(Shard(0, 2))).lock is None
    # one shard of one is an ordinary run
    one = MirrorRequest([], "m", state=State(lock=lock), sharding=Sharding(Shard(0, 1)))
    assert one.sharding.active is None and one.lock is lock


@pytest.mark.parametrize("make, message", [
    (lambda: Naming(tag_style="random"), "tag style 'random' is not one of"),
    (lambda: Limits(concurrency=0), "concurrency must be at least 1"),
    (lambda: Sharding(wait=-1), "shard_wait must not be negative"),
])
def test_refused_values(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_request_is_frozen():
    request = MirrorRequest([], "m")
    with pytest.raises(AttributeError):
        request.dest = "other"


@pytest.mark.parametrize("concurrency, small", [(1, 4), (2, 8), (8, 32), (16, 32), (40, 40)])
def test_small_requests_are_four_times_the_transfers_up_to_32_and_never_fewer(concurrency, small):
    assert Limits(concurrency).small_requests == small


@pytest.mark.parametrize("concurrency, lookups", [(1, 8), (2, 16), (8, 64), (16, 64), (80, 80)])
def test_lookups_are_eight_times_the_transfers_up_to_64_and_never_fewer(concurrency, lookups):
    assert Limits(concurrency).lookups == lookups
