"""Churn counts, churn rates and cohort retention from plain acquisition / loss dates.

Every customer is a :class:`CustomerLifespan`: the day they were acquired and the day
they were lost (``None`` while still a customer). A customer is *active on day d* when
``acquired_on <= d < lost_on``: they count from their acquisition day on, and no
longer count on the day they are lost.

When is a customer lost? (:func:`derive_lost_on`, evaluated as seen on ``as_of``)

1. an explicit cancellation dated on or before ``as_of`` is authoritative: lost on
   the cancellation date;
2. otherwise, a customer whose last purchase (or, with none, acquisition) is
   ``inactivity_days`` or more before ``as_of`` is lost on
   ``last purchase + inactivity_days``;
3. otherwise the customer is not lost (``None``).

Churn over the window ``(as_of - days, as_of]`` (:func:`churn_window`):

* customers at start = active on ``start = as_of - days``;
* customers at end = active on ``as_of``;
* acquired = acquired on a day in ``(start, as_of]``;
* lost = lost on a day in ``(start, as_of]``, including customers both acquired and
  lost inside the window;
* so ``end = start + acquired - lost`` holds exactly;
* average customers = ``(start + end) / 2``, the mean of the two head counts;
* churn rate = ``lost / average``; standard churn rate = ``lost / start``.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class CustomerLifespan:
    """When one customer was acquired and, if so, lost."""

    acquired_on: date
    lost_on: date | None = None

    def __post_init__(self) -> None:
        if self.lost_on is not None and self.lost_on < self.acquired_on:
            raise ValueError(f"lost on {self.lost_on} before acquisition on {self.acquired_on}")

    def is_active_on(self, day: date) -> bool:
        return self.acquired_on <= day and (self.lost_on is None or day < self.lost_on)

    def is_lost_within(self, after: date, up_to: date) -> bool:
        """Lost on a day in ``(after, up_to]``."""
        return self.lost_on is not None and after < self.lost_on <= up_to


def derive_lost_on(
    *,
    acquired_on: date,
    last_purchase_on: date | None,
    cancelled_on: date | None,
    inactivity_days: int,
    as_of: date,
) -> date | None:
    """The day a customer counts as lost, as known on ``as_of``, or ``None`` if not lost.

    An explicit cancellation on or before ``as_of`` wins; otherwise the customer is lost
    ``inactivity_days`` after their last purchase (their acquisition if they never
    bought) provided that day is on or before ``as_of``.
    """
    if inactivity_days <= 0:
        raise ValueError(f"inactivity_days must be positive, got {inactivity_days}")
    if cancelled_on is not None and cancelled_on <= as_of:
        return cancelled_on
    last_activity = last_purchase_on if last_purchase_on is not None else acquired_on
    lapsed_on = last_activity + timedelta(days=inactivity_days)
    return lapsed_on if lapsed_on <= as_of else None


@dataclass(frozen=True)
class ChurnWindow:
    """Head counts and churn over the window ``(start, end]``."""

    start: date
    end: date
    customers_at_start: int
    customers_at_end: int
    acquired: int
    lost: int

    @property
    def average_customers(self) -> float:
        """``(customers at start + customers at end) / 2``."""
        return (self.customers_at_start + self.customers_at_end) / 2

    @property
    def churn_rate(self) -> float | None:
        """``lost / average customers``; ``None`` when there were no customers to lose."""
        average = self.average_customers
        return self.lost / average if average > 0 else None

    @property
    def standard_churn_rate(self) -> float | None:
        """``lost / customers at start``; ``None`` when the window started with no customers."""
        return self.lost / self.customers_at_start if self.customers_at_start > 0 else None


def churn_window(lifespans: Iterable[CustomerLifespan], *, as_of: date, days: int) -> ChurnWindow:
    """Count customers at both ends of ``(as_of - days, as_of]`` and those acquired / lost in it."""
    if days <= 0:
        raise ValueError(f"the window must span a positive number of days, got {days}")
    start = as_of - timedelta(days=days)
    at_start = at_end = acquired = lost = 0
    for customer in lifespans:
        at_start += customer.is_active_on(start)
        at_end += customer.is_active_on(as_of)
        acquired += start < customer.acquired_on <= as_of
        lost += customer.is_lost_within(start, as_of)
    return ChurnWindow(
        start=start,
        end=as_of,
        customers_at_start=at_start,
        customers_at_end=at_end,
        acquired=acquired,
        lost=lost,
    )


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def last_day_of_month(month_start: date, months_later: int = 0) -> date:
    """Last day of the calendar month ``months_later`` months after ``month_start``'s month."""
    month_index = month_start.year * 12 + (month_start.month - 1) + months_later
    year, month = divmod(month_index, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


@dataclass(frozen=True)
class CohortRetention:
    """One acquisition-month cohort: ``active[k]`` customers still active at the end of
    the k-th calendar month after the acquisition month (``k = 0``: that month itself)."""

    cohort: date
    size: int
    active: tuple[int, ...]

    @property
    def retention(self) -> tuple[float, ...]:
        """Share of the cohort still active, by months since acquisition."""
        return tuple(count / self.size for count in self.active)


def cohort_retention(lifespans: Iterable[CustomerLifespan], *, as_of: date) -> tuple[CohortRetention, ...]:
    """Retention table: cohort (acquisition month) x months since acquisition.

    Cell ``k`` of a cohort is measured on the last day of calendar month
    ``cohort + k`` and exists only once that day is on or before ``as_of``; so a
    cohort acquired in ``as_of``'s own, unfinished month has no cells yet. Customers
    acquired after ``as_of`` are left out. Cohorts come oldest first.
    """
    cohorts: defaultdict[date, list[CustomerLifespan]] = defaultdict(list)
    for customer in lifespans:
        if customer.acquired_on <= as_of:
            cohorts[first_of_month(customer.acquired_on)].append(customer)
    table = []
    for cohort, members in sorted(cohorts.items()):
        active: list[int] = []
        checkpoint = last_day_of_month(cohort, len(active))
        while checkpoint <= as_of:
            active.append(sum(member.is_active_on(checkpoint) for member in members))
            checkpoint = last_day_of_month(cohort, len(active))
        table.append(CohortRetention(cohort=cohort, size=len(members), active=tuple(active)))
    return tuple(table)
