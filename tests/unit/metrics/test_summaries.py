from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.metrics.domain.summaries import (
    DAY_UNIT,
    WEEK_UNIT,
    PurchaseSummary,
    compress,
    summarize,
    summarize_customers,
)

CDNOW_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "CDNOW_sample.txt"


def test_same_day_purchases_merge_into_one_period_and_refunds_net_out() -> None:
    purchases = [
        (date(2024, 1, 1), 50.0),  # first purchase day
        (date(2024, 1, 1), 10.0),  # same day: merged into the first period
        (date(2024, 1, 8), 30.0),
        (date(2024, 1, 8), -5.0),  # partial refund the same day: period value 25
        (date(2024, 1, 22), 40.0),
        (date(2024, 2, 1), 99.0),  # after as_of: ignored
    ]
    summary = summarize(purchases, as_of=date(2024, 1, 29), unit_days=DAY_UNIT)
    # distinct days: Jan 1, Jan 8, Jan 22 -> x = 2 repeat days
    # t_x = Jan 22 - Jan 1 = 21 days; T = Jan 29 - Jan 1 = 28 days
    # m_x = mean of repeat-day totals = (25 + 40) / 2 = 32.5 (the first day's 60 excluded)
    assert summary == PurchaseSummary(x=2, t_x=21.0, T=28.0, m_x=32.5)


def test_refund_only_days_are_not_purchase_periods_but_free_orders_are() -> None:
    purchases = [
        (date(2024, 1, 1), 0.0),  # a free first order still acquires the customer
        (date(2024, 1, 8), 30.0),
        (date(2024, 1, 15), -30.0),  # refund-only day: not a purchase
        (date(2024, 1, 20), 12.0),
    ]
    summary = summarize(purchases, as_of=date(2024, 1, 29), unit_days=DAY_UNIT)
    # purchase days Jan 1, 8, 20 -> x = 2, t_x = 19, T = 28, m_x = (30 + 12) / 2 = 21
    assert summary == PurchaseSummary(x=2, t_x=19.0, T=28.0, m_x=21.0)
    with pytest.raises(ValueError, match="no purchase"):
        summarize([(date(2024, 1, 3), -5.0)], as_of=date(2024, 1, 29), unit_days=DAY_UNIT)


def test_weeks_are_seven_days() -> None:
    purchases = [(date(2024, 1, 1), 10.0), (date(2024, 1, 22), 20.0)]
    in_days = summarize(purchases, as_of=date(2024, 1, 29), unit_days=DAY_UNIT)
    in_weeks = summarize(purchases, as_of=date(2024, 1, 29), unit_days=WEEK_UNIT)
    # 21 days = 3 weeks, 28 days = 4 weeks; frequency and spend don't depend on the unit
    assert (in_days.t_x, in_days.T) == (21.0, 28.0)
    assert (in_weeks.t_x, in_weeks.T) == (3.0, 4.0)
    assert (in_weeks.x, in_weeks.m_x) == (in_days.x, in_days.m_x) == (1, 20.0)


def test_single_purchase_day_has_zero_frequency_recency_and_spend() -> None:
    purchases = [(date(2024, 3, 5), 12.0), (date(2024, 3, 5), 8.0)]
    summary = summarize(purchases, as_of=date(2024, 3, 12), unit_days=DAY_UNIT)
    assert summary == PurchaseSummary(x=0, t_x=0.0, T=7.0, m_x=0.0)


def test_purchase_on_the_as_of_day_counts() -> None:
    purchases = [(date(2024, 3, 5), 12.0), (date(2024, 3, 12), 8.0)]
    summary = summarize(purchases, as_of=date(2024, 3, 12), unit_days=DAY_UNIT)
    assert summary == PurchaseSummary(x=1, t_x=7.0, T=7.0, m_x=8.0)


def test_customer_not_yet_acquired_is_an_error() -> None:
    with pytest.raises(ValueError, match="no purchase"):
        summarize([(date(2024, 3, 5), 12.0)], as_of=date(2024, 3, 4), unit_days=DAY_UNIT)
    with pytest.raises(ValueError, match="unit_days"):
        summarize([(date(2024, 3, 5), 12.0)], as_of=date(2024, 3, 6), unit_days=0)


def test_summarize_customers_groups_a_flat_log_and_skips_unacquired() -> None:
    log = [
        ("ann", date(2024, 1, 1), 10.0),
        ("bob", date(2024, 1, 5), 7.0),
        ("ann", date(2024, 1, 15), 20.0),
        ("cat", date(2024, 2, 1), 5.0),  # first purchase after as_of: not a customer yet
        ("dan", date(2024, 1, 9), -4.0),  # only a refund: not a customer
    ]
    summaries = summarize_customers(log, as_of=date(2024, 1, 29), unit_days=WEEK_UNIT)
    assert summaries == {
        "ann": PurchaseSummary(x=1, t_x=2.0, T=4.0, m_x=20.0),
        "bob": PurchaseSummary(x=0, t_x=0.0, T=24 / 7, m_x=0.0),
    }


def test_cdnow_summaries_match_the_published_calibration_data() -> None:
    """Rows of Hardie's CDNOW calibration summary (x, t_x, T, zbar to 2 decimals)."""
    log = []
    for line in CDNOW_SAMPLE.read_text().splitlines():
        _, customer, day, _, dollars = line.split()
        log.append((int(customer), date(int(day[:4]), int(day[4:6]), int(day[6:])), float(dollars)))
    summaries = summarize_customers(log, as_of=date(1997, 9, 30), unit_days=WEEK_UNIT)
    published = {
        1: (2, 30.43, 38.86, 22.35),  # plain case
        26: (1, 1.57, 38.71, 227.14),  # two purchases on the repeat day: 166.89 + 60.25
        61: (4, 29.43, 38.43, 53.40),  # two same-day pairs among the repeat days
        88: (10, 35.43, 38.29, 13.66),  # two purchases on the first day (excluded from m_x)
        3: (0, 0.0, 38.86, 0.0),
        87: (0, 0.0, 38.29, 0.0),  # only order worth $0.00: still a customer
    }
    half_a_cent = 0.005 + 1e-9  # published values are rounded to 2 decimals
    for customer_id, (x, t_x, T, m_x) in published.items():
        summary = summaries[customer_id]
        assert summary.x == x
        assert summary.t_x == pytest.approx(t_x, abs=half_a_cent)
        assert summary.T == pytest.approx(T, abs=half_a_cent)
        assert summary.m_x == pytest.approx(m_x, abs=half_a_cent)
    assert len(summaries) == 2357
    assert sum(summary.x > 0 for summary in summaries.values()) == 946


def test_compress_counts_identical_tuples() -> None:
    x = [0, 2, 0, 2, 1]
    t_x = [0.0, 3.0, 0.0, 3.0, 1.0]
    T = [5.0, 4.0, 5.0, 4.0, 5.0]
    x_u, t_x_u, T_u, weights = compress(x, t_x, T)
    assert x_u.tolist() == [0, 1, 2]
    assert t_x_u.tolist() == [0.0, 1.0, 3.0]
    assert T_u.tolist() == [5.0, 5.0, 4.0]
    assert weights.tolist() == [2, 1, 2]
    assert compress(x, t_x, T).n_customers == 5


def test_compress_rejects_mismatched_arrays_and_accepts_empty() -> None:
    with pytest.raises(ValueError):
        compress([1, 2], [0.0], [1.0, 2.0])
    assert compress([], [], []).n_customers == 0


tuples = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(3, 5)), min_size=1, max_size=40)


@given(tuples)
def test_compress_is_lossless(rows: list[tuple[int, int, int]]) -> None:
    x, t_x, T = (np.array(column, dtype=np.float64) for column in zip(*rows, strict=True))
    compressed = compress(x, t_x, T)
    expanded = sorted((a, b, c) for a, b, c, w in zip(*compressed, strict=True) for _ in range(int(w)))
    assert expanded == sorted(rows)
    assert len(set(zip(compressed.x, compressed.t_x, compressed.T, strict=True))) == compressed.x.size
