import threading

import pytest

from imgserve.web.caching import ENTRY_OVERHEAD, ResultCache, etag
from tests.support.waiting import wait_until


def test_etag_is_strong_stable_and_sensitive_to_every_part() -> None:
    tag = etag("a.jpg", "1", "2", "w=10", "0.1")
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith('W/')
    assert tag == etag("a.jpg", "1", "2", "w=10", "0.1")
    assert len({tag, etag("a.jpg", "1", "2", "w=11", "0.1"), etag("a.jpg", "1", "3", "w=10", "0.1"),
                etag("b.jpg", "1", "2", "w=10", "0.1"), etag("a.jpg", "1", "2", "w=10", "0.2")}) == 5
    assert etag("ab", "c") != etag("a", "bc")


def test_cache_is_bounded_by_bytes_and_evicts_least_recently_used() -> None:
    cache: ResultCache[bytes] = ResultCache(3 * (100 + ENTRY_OVERHEAD), len)
    for key in "abc":
        cache.fetch(key, lambda: b"x" * 100)
    assert cache.fetch("a", lambda: b"new")[1] is True  # touch a: b is now the oldest
    cache.fetch("d", lambda: b"x" * 100)
    assert cache.bytes <= cache.max_bytes
    assert cache.fetch("b", lambda: b"again")[0] == b"again"   # b was evicted
    assert cache.fetch("a", lambda: b"new")[0] == b"x" * 100     # a survived


def test_values_larger_than_the_budget_are_served_but_not_kept() -> None:
    cache: ResultCache[bytes] = ResultCache(1000, len)
    assert cache.fetch("big", lambda: b"x" * 5000) == (b"x" * 5000, False)
    assert len(cache) == 0 and cache.bytes == 0


def test_zero_budget_turns_the_cache_off() -> None:
    cache: ResultCache[bytes] = ResultCache(0, len)
    calls = []
    for _ in range(3):
        cache.fetch("k", lambda: calls.append(1) or b"v")
    assert len(calls) == 3 and len(cache) == 0


def test_concurrent_misses_for_one_key_make_it_once() -> None:
    """Eight requests for one key while it is being made: the value is made once, and all eight get it.
    The maker is held until all eight have missed, so they really are concurrent."""
    cache: ResultCache[bytes] = ResultCache(10_000, len)
    calls, release = [], threading.Event()

    def held() -> bytes:
        calls.append(1)
        release.wait(30)
        return b"value"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.fetch("k", held)[0])) for _ in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: cache.misses == 8, "all eight requests to miss")
    release.set()
    for t in threads:
        t.join(30)
    assert results == [b"value"] * 8 and len(calls) == 1


def test_a_failure_reaches_every_waiter_and_is_not_cached() -> None:
    cache: ResultCache[bytes] = ResultCache(10_000, len)
    release = threading.Event()

    def boom() -> bytes:
        release.wait(30)
        raise ValueError("bad input")

    errors = []

    def call() -> None:
        try:
            cache.fetch("k", boom)
        except ValueError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: cache.misses == 4, "all four requests to miss")
    release.set()
    for t in threads:
        t.join(30)
    assert errors == ["bad input"] * 4
    assert cache.fetch("k", lambda: b"ok") == (b"ok", False)


def test_cache_is_thread_safe_under_churn() -> None:
    cache: ResultCache[bytes] = ResultCache(50 * (64 + ENTRY_OVERHEAD), len)

    def churn(offset: int) -> None:
        for i in range(2000):
            key = (offset * 7 + i) % 200
            value, _ = cache.fetch(key, lambda key=key: bytes([key % 256]) * 64)
            assert value == bytes([key % 256]) * 64

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.bytes <= cache.max_bytes and len(cache) <= 50


@pytest.mark.parametrize("budget", [1, ENTRY_OVERHEAD])
def test_tiny_budgets_hold_nothing(budget: int) -> None:
    cache: ResultCache[bytes] = ResultCache(budget, len)
    cache.fetch("k", lambda: b"v")
    assert len(cache) == 0


def test_when_the_owners_client_hangs_up_a_waiter_makes_the_value_itself() -> None:
    from imgserve.errors import Problem

    cache: ResultCache[bytes] = ResultCache(10_000, len)
    calls, release = [], threading.Event()

    def abandoned() -> bytes:
        calls.append("owner")
        release.wait(30)
        raise Problem(499, "the client closed the connection while waiting for a slot")

    errors = []

    def owner() -> None:
        try:
            cache.fetch("k", abandoned)
        except Problem as problem:
            errors.append(problem.status)

    first = threading.Thread(target=owner)
    first.start()
    wait_until(lambda: calls == ["owner"], "the owner to start making the value")
    # the waiter below misses too (misses == 2) and waits for the owner, which then gives up
    threading.Thread(target=lambda: (wait_until(lambda: cache.misses == 2, "the waiter"), release.set())).start()
    result = cache.fetch("k", lambda: calls.append("waiter") or b"value")
    first.join(30)
    assert errors == [499] and result == (b"value", False) and calls == ["owner", "waiter"]
