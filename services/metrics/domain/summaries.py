"""Per-customer purchase summaries for "buy till you die" (BTYD) models.

A customer's history of ``(day, amount)`` purchases up to an ``as_of`` date becomes
``(x, t_x, T, m_x)``:

* purchases on the same calendar day merge into one *purchase period* whose value is
  the sum of that day's amounts; a refund recorded as a negative amount nets out
  against the same day's purchases;
* a day whose net total is negative holds only refunds: it is not a purchase period
  and counts towards none of ``x``, ``t_x``, ``T``, ``m_x`` (a refund does not say
  which earlier purchase it reverses; net it into its order upstream if that matters,
  or use :func:`services.metrics.domain.clv.historical_clv` for net revenue). A
  zero-value day *is* a purchase period: CDNOW has eight customers whose only order
  was worth $0.00, and they are part of the published 2,357;
* ``x`` (frequency) is the number of distinct purchase days after the first one, i.e.
  the number of *repeat* purchase periods;
* ``t_x`` (recency) is ``last purchase day - first purchase day``;
* ``T`` (age) is ``as_of - first purchase day``;
* ``m_x`` (monetary value) is the mean value of the repeat purchase periods; the first
  purchase period is excluded, and ``m_x = 0`` when ``x = 0``.

Purchases dated after ``as_of`` are ignored; a purchase *on* ``as_of`` counts (so it
can give ``t_x == T``). ``t_x`` and ``T`` are expressed in an explicit time unit of
``unit_days`` days (``DAY_UNIT = 1`` or ``WEEK_UNIT = 7``), never an implied default:
the same history must not silently change meaning when the model's unit changes.

This construction reproduces the CDNOW calibration data of Fader, Hardie & Lee: with
``as_of = 1997-09-30`` (the last day of the 39-week calibration period, so a customer
whose first purchase was on 1997-01-01 has ``T = 272 / 7 = 38.86`` weeks, not 39) and
weeks as the unit, all 2,357 rows of the published calibration summary
``(x, t_x, T, zbar)`` are reproduced to their two printed decimals. Customer 1
(purchases on 1997-01-01, 1997-01-18 and 1997-08-02) gets ``x = 2``,
``t_x = 213 / 7 = 30.43``, ``T = 38.86``, ``m_x = (29.73 + 14.96) / 2 = 22.35``. The
same-day merge matters: 177 (customer, day) pairs in the CDNOW sample carry two or
more transaction lines, and the published ``x`` and ``zbar`` count each such day once
with the day's summed value (customer 26: 166.89 + 60.25 = 227.14 on its only repeat
day), while the first purchase day never enters ``m_x`` (customer 88 bought twice on
its first day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

DAY_UNIT: float = 1.0
WEEK_UNIT: float = 7.0

CustomerKey = TypeVar("CustomerKey", bound=Hashable)


@dataclass(frozen=True)
class PurchaseSummary:
    """The BTYD summary of one customer: repeat frequency, recency, age, mean repeat value."""

    x: int
    t_x: float
    T: float
    m_x: float


class CompressedSummaries(NamedTuple):
    """Unique ``(x, t_x, T)`` tuples with how many customers share each one.

    A named tuple, so it unpacks as ``x, t_x, T, weights = compress(...)``.
    """

    x: npt.NDArray[np.float64]
    t_x: npt.NDArray[np.float64]
    T: npt.NDArray[np.float64]
    weights: npt.NDArray[np.int64]

    @property
    def n_customers(self) -> int:
        return int(self.weights.sum())


def daily_totals(purchases: Iterable[tuple[date, float]], *, as_of: date) -> dict[date, float]:
    """Merge purchases dated on or before ``as_of`` into one net total per calendar day."""
    totals: dict[date, float] = {}
    for day, amount in purchases:
        if day <= as_of:
            totals[day] = totals.get(day, 0.0) + float(amount)
    return totals


def summarize(purchase_days: Sequence[tuple[date, float]], *, as_of: date, unit_days: float) -> PurchaseSummary:
    """Summarise one customer's ``(day, amount)`` purchases as seen on ``as_of``.

    Raises ``ValueError`` when no purchase day (net total >= 0) falls on or before
    ``as_of`` (the customer has not been acquired yet) or when ``unit_days`` is not positive.
    """
    if unit_days <= 0:
        raise ValueError(f"unit_days must be positive, got {unit_days}")
    totals = {day: total for day, total in daily_totals(purchase_days, as_of=as_of).items() if total >= 0}
    if not totals:
        raise ValueError(f"no purchase on or before {as_of.isoformat()}")
    days = sorted(totals)
    first, last = days[0], days[-1]
    repeat_values = [totals[day] for day in days[1:]]
    x = len(repeat_values)
    return PurchaseSummary(
        x=x,
        t_x=(last - first).days / unit_days,
        T=(as_of - first).days / unit_days,
        m_x=sum(repeat_values) / x if x else 0.0,
    )


def summarize_customers(
    transactions: Iterable[tuple[CustomerKey, date, float]], *, as_of: date, unit_days: float
) -> dict[CustomerKey, PurchaseSummary]:
    """Summarise a flat ``(customer, day, amount)`` transaction log, one summary per customer.

    Customers with no purchase day on or before ``as_of`` are not acquired yet and are left out.
    """
    histories: defaultdict[CustomerKey, list[tuple[date, float]]] = defaultdict(list)
    for customer, day, amount in transactions:
        histories[customer].append((day, amount))
    return {
        customer: summarize(history, as_of=as_of, unit_days=unit_days)
        for customer, history in histories.items()
        if any(total >= 0 for total in daily_totals(history, as_of=as_of).values())
    }


def compress(x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> CompressedSummaries:
    """Collapse per-customer ``(x, t_x, T)`` arrays to unique tuples with integer weights.

    Histories measured in whole days take few distinct values, so the BG/NBD
    likelihood only has to be evaluated once per unique tuple. The result unpacks
    as ``x_u, t_x_u, T_u, weights``; ``weights.sum()`` equals the number of customers.
    """
    x_arr = np.asarray(x, dtype=np.float64)
    t_x_arr = np.asarray(t_x, dtype=np.float64)
    T_arr = np.asarray(T, dtype=np.float64)
    if not (x_arr.shape == t_x_arr.shape == T_arr.shape) or x_arr.ndim != 1:
        raise ValueError("x, t_x and T must be one-dimensional arrays of equal length")
    if x_arr.size == 0:
        empty = np.empty(0, dtype=np.float64)
        return CompressedSummaries(empty, empty, empty, np.empty(0, dtype=np.int64))
    order = np.lexsort((T_arr, t_x_arr, x_arr))
    xs, ts, Ts = x_arr[order], t_x_arr[order], T_arr[order]
    starts_new = np.empty(xs.size, dtype=bool)
    starts_new[0] = True
    starts_new[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1]) | (Ts[1:] != Ts[:-1])
    first_of_group = np.flatnonzero(starts_new)
    counts = np.diff(np.append(first_of_group, xs.size))
    return CompressedSummaries(
        x=xs[first_of_group],
        t_x=ts[first_of_group],
        T=Ts[first_of_group],
        weights=counts.astype(np.int64),
    )
