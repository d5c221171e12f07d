from services.ingest.domain.rate_limit import TokenBuckets


def test_a_burst_is_allowed_then_the_rate_refills_it() -> None:
    buckets = TokenBuckets(rate=10, burst=20)
    assert buckets.take("k", 20, now=0.0) == 0.0
    assert buckets.take("k", 1, now=0.0) == 0.1
    assert buckets.take("k", 5, now=0.5) == 0.0
    assert buckets.take("k", 1, now=0.5) > 0


def test_keys_have_their_own_buckets() -> None:
    buckets = TokenBuckets(rate=1, burst=1)
    assert buckets.take("a", 1, now=0.0) == 0.0
    assert buckets.take("b", 1, now=0.0) == 0.0
    assert buckets.take("a", 1, now=0.0) == 1.0


def test_a_batch_larger_than_the_burst_costs_the_whole_burst_not_forever() -> None:
    buckets = TokenBuckets(rate=100, burst=50)
    assert buckets.take("k", 500, now=0.0) == 0.0
    assert buckets.take("k", 500, now=0.25) > 0
    assert buckets.take("k", 500, now=0.5) == 0.0


def test_a_zero_rate_turns_limiting_off() -> None:
    buckets = TokenBuckets(rate=0, burst=1)
    assert not buckets.enabled
    assert all(buckets.take("k", 1000, now=0.0) == 0.0 for _ in range(10))
