from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.metrics.domain.churn import (
    CohortRetention,
    CustomerLifespan,
    churn_window,
    cohort_retention,
    derive_lost_on,
    last_day_of_month,
)

AS_OF = date(2024, 3, 31)


def test_churn_window_worked_example() -> None:
    # window of 31 days ending 2024-03-31 -> (2024-02-29, 2024-03-31] (2024 is a leap year)
    customers = [
        CustomerLifespan(date(2023, 12, 1)),  # A: active throughout
        CustomerLifespan(date(2024, 1, 10), date(2024, 3, 15)),  # B: at start, lost in window
        CustomerLifespan(date(2024, 2, 29)),  # C: acquired on the start day -> counted at start
        CustomerLifespan(date(2024, 3, 5), date(2024, 3, 20)),  # D: acquired and lost inside
        CustomerLifespan(date(2024, 3, 10)),  # E: acquired inside, still there at the end
        CustomerLifespan(date(2023, 11, 1), date(2024, 2, 29)),  # F: lost on the start day -> gone
        CustomerLifespan(date(2024, 1, 1), date(2024, 3, 31)),  # G: lost on as_of -> lost in window
        CustomerLifespan(date(2024, 1, 15), date(2024, 4, 10)),  # H: loss after as_of -> still active
    ]
    window = churn_window(customers, as_of=AS_OF, days=31)
    assert (window.start, window.end) == (date(2024, 2, 29), AS_OF)
    assert window.customers_at_start == 5  # A B C G H
    assert window.customers_at_end == 4  # A C E H
    assert window.acquired == 2  # D E
    assert window.lost == 3  # B D G
    # 5 + 2 - 3 = 4
    assert window.customers_at_start + window.acquired - window.lost == window.customers_at_end
    assert window.average_customers == 4.5  # (5 + 4) / 2
    assert window.churn_rate == pytest.approx(3 / 4.5)  # 0.667
    assert window.standard_churn_rate == pytest.approx(3 / 5)  # 0.6


def test_churn_rates_are_undefined_without_customers() -> None:
    empty = churn_window([], as_of=AS_OF, days=30)
    assert empty.churn_rate is None and empty.standard_churn_rate is None
    # acquired and lost inside the window: nobody at start, 1 lost, average (0 + 0) / 2 = 0
    flash = churn_window([CustomerLifespan(date(2024, 3, 10), date(2024, 3, 12))], as_of=AS_OF, days=30)
    assert (flash.lost, flash.acquired, flash.average_customers) == (1, 1, 0.0)
    assert flash.churn_rate is None and flash.standard_churn_rate is None
    with pytest.raises(ValueError):
        churn_window([], as_of=AS_OF, days=0)


def test_lost_on_prefers_an_explicit_cancellation() -> None:
    lost = derive_lost_on(
        acquired_on=date(2024, 1, 1),
        last_purchase_on=date(2024, 3, 30),
        cancelled_on=date(2024, 3, 2),
        inactivity_days=60,
        as_of=AS_OF,
    )
    assert lost == date(2024, 3, 2)


def test_cancellation_after_as_of_is_not_known_yet() -> None:
    # cancelled 2024-04-05 > as_of; last purchase 2024-03-01 + 60 days = 2024-04-30 > as_of
    lost = derive_lost_on(
        acquired_on=date(2024, 1, 1),
        last_purchase_on=date(2024, 3, 1),
        cancelled_on=date(2024, 4, 5),
        inactivity_days=60,
        as_of=AS_OF,
    )
    assert lost is None


@pytest.mark.parametrize(
    ("last_purchase_on", "expected"),
    [
        (date(2024, 1, 1), date(2024, 3, 1)),  # Jan 1 + 60 days = Mar 1 (31 + 29) <= as_of
        (date(2024, 1, 31), date(2024, 3, 31)),  # Jan 31 + 60 days = Mar 31 = as_of: lost today
        (date(2024, 2, 1), None),  # Feb 1 + 60 days = Apr 1 > as_of: not lost yet
        (None, date(2024, 3, 1)),  # never bought: count from acquisition (Jan 1)
    ],
)
def test_lost_on_after_inactivity(last_purchase_on: date | None, expected: date | None) -> None:
    lost = derive_lost_on(
        acquired_on=date(2024, 1, 1),
        last_purchase_on=last_purchase_on,
        cancelled_on=None,
        inactivity_days=60,
        as_of=AS_OF,
    )
    assert lost == expected


def test_from_raw_customer_records_to_churn() -> None:
    # (acquired, last purchase, cancellation) with a 30-day inactivity rule, as of 2024-03-31
    records = [
        (date(2024, 1, 1), date(2024, 3, 25), None),  # recent buyer: active
        (date(2024, 1, 1), date(2024, 1, 20), None),  # Jan 20 + 30 = Feb 19: lost before the window
        (date(2024, 1, 5), date(2024, 2, 15), None),  # Feb 15 + 30 = Mar 16: lost in the window
        (date(2024, 2, 1), date(2024, 3, 30), date(2024, 3, 10)),  # cancelled Mar 10, bought later
        (date(2024, 3, 20), None, None),  # new, no purchase: lost Apr 19 at the earliest
    ]
    lifespans = [
        CustomerLifespan(
            acquired,
            derive_lost_on(
                acquired_on=acquired,
                last_purchase_on=last,
                cancelled_on=cancelled,
                inactivity_days=30,
                as_of=AS_OF,
            ),
        )
        for acquired, last, cancelled in records
    ]
    assert [c.lost_on for c in lifespans] == [
        None,
        date(2024, 2, 19),
        date(2024, 3, 16),
        date(2024, 3, 10),
        None,
    ]
    # March window (Feb 29, Mar 31]: start = rows 1, 3, 4 = 3; end = rows 1, 5 = 2;
    # acquired = row 5; lost = rows 3, 4 -> 3 + 1 - 2 = 2
    window = churn_window(lifespans, as_of=AS_OF, days=31)
    assert (window.customers_at_start, window.customers_at_end, window.acquired, window.lost) == (3, 2, 1, 2)
    assert window.churn_rate == pytest.approx(2 / 2.5)  # 0.8
    assert window.standard_churn_rate == pytest.approx(2 / 3)


def test_cohort_retention_worked_example() -> None:
    customers = [
        CustomerLifespan(date(2024, 1, 5)),  # J1: stays
        CustomerLifespan(date(2024, 1, 20), date(2024, 1, 25)),  # J2: gone before Jan 31
        CustomerLifespan(date(2024, 1, 31), date(2024, 2, 15)),  # J3: active on Jan 31 only
        CustomerLifespan(date(2024, 1, 10), date(2024, 3, 31)),  # J4: lost on Mar 31 itself
        CustomerLifespan(date(2024, 2, 10)),  # F1: stays
        CustomerLifespan(date(2024, 2, 28), date(2024, 3, 1)),  # F2: active on Feb 29 only
        CustomerLifespan(date(2024, 3, 15)),  # M1
        CustomerLifespan(date(2024, 4, 2)),  # acquired after as_of: left out
    ]
    table = cohort_retention(customers, as_of=AS_OF)
    # checkpoints: Jan 31, Feb 29, Mar 31
    assert table == (
        CohortRetention(cohort=date(2024, 1, 1), size=4, active=(3, 2, 1)),  # J1 J3 J4 | J1 J4 | J1
        CohortRetention(cohort=date(2024, 2, 1), size=2, active=(2, 1)),  # F1 F2 | F1
        CohortRetention(cohort=date(2024, 3, 1), size=1, active=(1,)),
    )
    assert table[0].retention == (0.75, 0.5, 0.25)
    assert table[1].retention == (1.0, 0.5)


def test_cohort_cells_wait_for_the_month_to_end() -> None:
    customers = [CustomerLifespan(date(2024, 1, 5)), CustomerLifespan(date(2024, 3, 15))]
    table = cohort_retention(customers, as_of=date(2024, 3, 30))
    assert table == (
        CohortRetention(cohort=date(2024, 1, 1), size=1, active=(1, 1)),
        CohortRetention(cohort=date(2024, 3, 1), size=1, active=()),
    )


def test_last_day_of_month_crosses_years() -> None:
    assert last_day_of_month(date(2023, 11, 1), 3) == date(2024, 2, 29)
    assert last_day_of_month(date(2024, 12, 1)) == date(2024, 12, 31)


def test_lost_before_acquired_is_rejected() -> None:
    with pytest.raises(ValueError):
        CustomerLifespan(date(2024, 2, 1), date(2024, 1, 1))


lifespans = st.builds(
    lambda start, duration: CustomerLifespan(start, None if duration is None else start + timedelta(days=duration)),
    st.dates(date(2023, 1, 1), date(2024, 12, 31)),
    st.none() | st.integers(0, 400),
)


@given(st.lists(lifespans, max_size=30), st.dates(date(2023, 6, 1), date(2025, 6, 1)), st.integers(1, 120))
def test_head_counts_balance(customers: list[CustomerLifespan], as_of: date, days: int) -> None:
    window = churn_window(customers, as_of=as_of, days=days)
    assert window.customers_at_start + window.acquired - window.lost == window.customers_at_end
