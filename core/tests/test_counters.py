"""Shared counters: joined and left in one round trip on Redis, one call each elsewhere."""

from __future__ import annotations

from django.core.cache import cache

from core.counters import cache_incr, join_counters, leave_counters, leave_counters_later


def _check_counters() -> None:
    cache.delete_many(["a:run", "a:fail", "b:run", "b:fail"])
    cache_incr("a:fail", ttl=60)
    cache_incr("a:fail", ttl=60)
    assert join_counters([("a:run", "a:fail"), ("b:run", "b:fail")], ttl=60) == [(1, 2), (1, 0)]
    assert join_counters([("a:run", "a:fail")], ttl=60) == [(2, 2)]
    leave_counters(["a:run", "b:run"])
    assert int(cache.get("a:run")) == 1
    assert int(cache.get("b:run")) == 0
    # A counter that expired meanwhile is not brought back.
    cache.delete("b:run")
    leave_counters(["b:run"])
    assert cache.get("b:run") is None
    leave_counters([])


def test_counters_in_the_configured_cache() -> None:
    _check_counters()


def test_counters_on_redis_take_one_round_trip_each(redis_cache) -> None:
    backend = redis_cache
    calls = []
    client = backend.client.get_client(write=True)
    original = client.evalsha
    client.evalsha = lambda *args: calls.append(args[0]) or original(*args)
    try:
        _check_counters()
    finally:
        del client.evalsha
    # Each join and each leave was one script call, whatever the number of keys.
    assert len(calls) == 4
    # The counter got its time to live with the first join.
    assert 0 < backend.ttl("a:run") <= 60


def test_counters_left_later_ride_on_the_next_pipeline_or_the_end_of_the_request(
    redis_cache,
) -> None:
    from django.core.signals import request_finished, request_started

    from core.counters import send_leaves_with

    backend = redis_cache
    cache.delete_many(["r:a", "r:b", "r:f"])
    # Outside a request: left at once.
    join_counters([("r:a", "r:f")], ttl=60)
    leave_counters_later(["r:a"])
    assert int(cache.get("r:a")) == 0

    request_started.send(sender=None)
    try:
        join_counters([("r:a", "r:f"), ("r:b", "r:f")], ttl=60)
        leave_counters_later(["r:a"])
        assert int(cache.get("r:a")) == 1  # not yet
        pipe = backend.client.get_client(write=True).pipeline(transaction=False)
        pipe.set(cache.make_key("r:f"), 0)
        send_leaves_with(pipe)
        pipe.execute()
        assert int(cache.get("r:a")) == 0  # with the pipeline's round trip
        leave_counters_later(["r:b"])
        assert int(cache.get("r:b")) == 1
    finally:
        request_finished.send(sender=None)
    assert int(cache.get("r:b")) == 0  # when the request ended
