"""observe_many must leave a histogram exactly as observing each amount would."""

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from shared.observability import observe_many

BUCKETS = (0.01, 0.1, 1.0, 10.0)
amounts = st.lists(st.floats(min_value=0, max_value=100, allow_nan=False) | st.sampled_from(BUCKETS), max_size=50)


def samples(histogram: Histogram) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in histogram.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


@given(amounts)
def test_bulk_observation_equals_one_by_one(values: list[float]) -> None:
    one = Histogram("t_one", "one by one", ["group"], buckets=BUCKETS, registry=CollectorRegistry())
    bulk = Histogram("t_one", "one by one", ["group"], buckets=BUCKETS, registry=CollectorRegistry())
    child = one.labels("g")
    for value in values:
        child.observe(value)
    observe_many(bulk.labels("g"), values)
    assert samples(bulk) == samples(one)


def test_amounts_land_in_their_buckets_and_sum() -> None:
    histogram = Histogram("t_two", "bulk", buckets=BUCKETS, registry=CollectorRegistry())
    observe_many(histogram, [0.01, 0.05, 5.0, 50.0])
    got = samples(histogram)
    assert got[("t_two_bucket", (("le", "0.01"),))] == 1  # a bound belongs to its own bucket
    assert got[("t_two_bucket", (("le", "0.1"),))] == 2
    assert got[("t_two_bucket", (("le", "10.0"),))] == 3
    assert got[("t_two_bucket", (("le", "+Inf"),))] == 4
    assert got[("t_two_count", ())] == 4
    assert abs(got[("t_two_sum", ())] - 55.06) < 1e-9
