"""The token cache of one registry: superset tokens, one fetch per scope set at a time, forgetting."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine import tokens as T

PULL = ("repository:a/b:pull",)
PUSH = ("repository:a/b:pull,push",)
MOUNT = ("repository:a/b:pull,push", "repository:c/d:pull")


class Fetcher:
    """A token service: each fetch hands out the next token, kept for *lifetime* seconds."""

    def __init__(self, lifetime: float = 300.0) -> None:
        self.asked: list[tuple[str, ...]] = []
        self.lifetime = lifetime

    def __call__(self, key: tuple[str, ...]):
        def fetch() -> tuple[str, float]:
            self.asked.append(key)
            return "t%d" % len(self.asked), self.lifetime
        return fetch


def test_scopes_parse_and_cover():
    assert T.parse_scopes(MOUNT) == {("repository", "a/b"): {"pull", "push"}, ("repository", "c/d"): {"pull"}}
    assert T.parse_scopes(["repository:host:5000/x:pull"]) == {("repository", "host:5000/x"): {"pull"}}
    assert T.covers(T.parse_scopes(PUSH), T.parse_scopes(PULL))
    assert not T.covers(T.parse_scopes(PULL), T.parse_scopes(PUSH))
    assert T.covers(T.parse_scopes(MOUNT), T.parse_scopes(PUSH + ("repository:c/d:pull",)))
    assert not T.covers(T.parse_scopes(PUSH), T.parse_scopes(("repository:c/d:pull",)))


def test_a_token_asked_for_more_serves_a_request_that_needs_less():
    cache, fetch = T.TokenCache(), Fetcher()
    assert cache.get(MOUNT, "alice", fetch(MOUNT)) == "t1"
    assert cache.get(PUSH, "alice", fetch(PUSH)) == "t1"  # the mount's token pushes to a/b
    assert cache.get(PULL, "alice", fetch(PULL)) == "t1"
    assert cache.get(("repository:c/d:pull",), "alice", fetch(("repository:c/d:pull",))) == "t1"
    assert fetch.asked == [MOUNT]
    # not the other way round, nor with other credentials, nor for another repository
    assert cache.get(("repository:c/d:pull,push",), "alice", fetch(("repository:c/d:pull,push",))) == "t2"
    assert cache.get(PULL, "bob", fetch(PULL)) == "t3"
    assert cache.get(("repository:a/bc:pull",), "alice", fetch(("repository:a/bc:pull",))) == "t4"
    assert len(fetch.asked) == 4


def test_a_token_lives_from_before_it_was_asked_for_and_expired_ones_serve_nothing():
    now = [100.0]
    cache, fetch = T.TokenCache(clock=lambda: now[0]), Fetcher(lifetime=10)

    def slow() -> tuple[str, float]:
        now[0] += 4  # the token service took 4 s to answer
        return fetch(PUSH)()

    assert cache.get(PUSH, None, slow) == "t1"
    now[0] = 109.9
    assert cache.get(PULL, None, fetch(PULL)) == "t1"
    now[0] = 110.0  # 10 s after it was asked for, not after the answer
    assert cache.get(PUSH, None, fetch(PUSH)) == "t2"
    assert cache.get(PULL, None, fetch(PULL)) == "t2"  # the expired alias is not used


def test_fresh_fetches_even_when_cached():
    cache, fetch = T.TokenCache(), Fetcher()
    assert cache.get(PULL, None, fetch(PULL)) == "t1"
    assert cache.get(PULL, None, fetch(PULL), fresh=True) == "t2"
    assert cache.get(PULL, None, fetch(PULL)) == "t2"


def test_forgetting_a_refused_token_drops_it_everywhere_but_keeps_a_newer_one():
    cache, fetch = T.TokenCache(), Fetcher()
    assert cache.get(PUSH, None, fetch(PUSH)) == "t1"
    assert cache.get(PULL, None, fetch(PULL)) == "t1"  # cached for PULL too
    cache.forget_token("t1")
    assert cache.get(PULL, None, fetch(PULL)) == "t2"  # not t1 through the alias
    assert cache.get(PUSH, None, fetch(PUSH)) == "t3"
    cache.forget_token("t1")  # a late refusal of the old token: t3 stays
    assert cache.get(PUSH, None, fetch(PUSH)) == "t3"
    cache.forget(PUSH)  # without the refused value: the token cached for the set
    assert cache.get(PUSH, None, fetch(PUSH)) == "t4"
    assert cache.get(PULL, None, fetch(PULL)) == "t2"


def test_threads_needing_the_same_token_at_once_fetch_it_once():
    cache = T.TokenCache()
    asked: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def fetch() -> tuple[str, float]:
        asked.append(1)
        entered.set()
        release.wait(10)
        return "t%d" % len(asked), 300.0

    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(PUSH, None, fetch))) for _thread in range(8)]
    threads[0].start()
    assert entered.wait(10)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.3)  # the others are waiting for the first one's fetch
    release.set()
    for thread in threads:
        thread.join(10)
    assert got == ["t1"] * 8 and len(asked) == 1


def test_when_the_fetching_thread_fails_a_waiting_one_fetches_for_itself():
    cache = T.TokenCache()
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def failing() -> tuple[str, float]:
        calls.append("first")
        entered.set()
        release.wait(10)
        raise RuntimeError("token service down")

    def working() -> tuple[str, float]:
        calls.append("second")
        return "t2", 300.0

    errors: list[Exception] = []

    def first() -> None:
        try:
            cache.get(PULL, None, failing)
        except RuntimeError as exc:
            errors.append(exc)

    got: list[str] = []
    one = threading.Thread(target=first)
    one.start()
    assert entered.wait(10)
    two = threading.Thread(target=lambda: got.append(cache.get(PULL, None, working)))
    two.start()
    time.sleep(0.2)
    release.set()
    one.join(10)
    two.join(10)
    assert [str(e) for e in errors] == ["token service down"]
    assert got == ["t2"] and calls == ["first", "second"]


@pytest.mark.parametrize("scopes", [(), ("registry:catalog:*",)])
def test_other_scope_sets_are_cached_as_they_are(scopes):
    cache, fetch = T.TokenCache(), Fetcher()
    assert cache.get(scopes, None, fetch(scopes)) == "t1"
    assert cache.get(scopes, None, fetch(scopes)) == "t1"
    assert fetch.asked == [scopes]
