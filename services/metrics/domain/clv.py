"""Customer lifetime value, three ways: historical, simple and predictive.

* :func:`historical_clv` - what a customer has been worth so far, in money of the
  acquisition date.
* :func:`simple_clv` - the textbook back-of-the-envelope formula from aggregate
  averages and a churn rate.
* :func:`predictive_clv` - expected future value from a fitted BG/NBD purchase model
  and a Gamma-Gamma spend model.

Calendar conventions shared by all three: a year is ``DAYS_PER_YEAR = 365.25`` days
and a month is ``DAYS_PER_MONTH = 365.25 / 12 = 30.4375`` days.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from services.metrics.domain.bgnbd import BgNbdParams, expected_purchases
from services.metrics.domain.gamma_gamma import GammaGammaParams, conditional_expected_spend

FloatArray = npt.NDArray[np.float64]

DAYS_PER_YEAR: float = 365.25
DAYS_PER_MONTH: float = DAYS_PER_YEAR / 12


@dataclass(frozen=True)
class CashFlow:
    """Money from one customer on one day.

    ``revenue`` is net: a refund is a cash flow with negative revenue (and, if the
    goods come back, a negative cost).
    """

    on: date
    revenue: float
    cost: float = 0.0

    @property
    def contribution(self) -> float:
        return self.revenue - self.cost


def historical_clv(
    cash_flows: Iterable[CashFlow],
    *,
    acquired_on: date,
    annual_discount_rate: float,
    as_of: date | None = None,
) -> float:
    """Net contribution to date, discounted back to the acquisition date::

        CLV_hist = sum_i (revenue_i - cost_i) * exp(-rho * (day_i - acquired_on) / 365.25)

    ``rho = annual_discount_rate`` is a continuously compounded annual rate, so a flow
    one year (365.25 days) after acquisition is worth ``e^-rho`` of its face value and
    the equivalent effective annual rate is ``e^rho - 1``. Flows dated after ``as_of``
    (when given) are ignored; a flow dated before ``acquired_on`` is an error.
    """
    if annual_discount_rate < 0:
        raise ValueError(f"annual_discount_rate must be non-negative, got {annual_discount_rate}")
    total = 0.0
    for flow in cash_flows:
        if as_of is not None and flow.on > as_of:
            continue
        days_since_acquisition = (flow.on - acquired_on).days
        if days_since_acquisition < 0:
            raise ValueError(f"cash flow on {flow.on.isoformat()} precedes acquisition on {acquired_on}")
        years = days_since_acquisition / DAYS_PER_YEAR
        total += flow.contribution * math.exp(-annual_discount_rate * years)
    return total


def average_order_value(net_revenue: float, n_orders: int) -> float:
    """``AOV = net revenue / number of orders`` (refunds already netted out of revenue)."""
    if n_orders <= 0:
        raise ValueError("average order value needs at least one order")
    return net_revenue / n_orders


def purchase_frequency(n_orders: int, n_customers: int, n_periods: float = 1.0) -> float:
    """Orders per customer per period: ``orders / customers / periods``."""
    if n_customers <= 0 or n_periods <= 0:
        raise ValueError("purchase frequency needs customers and a positive number of periods")
    return n_orders / n_customers / n_periods


def simple_clv(
    *,
    average_order_value: float,
    purchase_frequency: float,
    churn_rate: float,
    margin: float = 1.0,
) -> float:
    """Aggregate CLV from averages::

        CLV_simple = AOV * purchase frequency * expected lifespan * margin
        expected lifespan = 1 / churn rate

    ``purchase_frequency`` (orders per customer) and ``churn_rate`` (share of customers
    lost) must refer to the same period - both per month, or both per year - and the
    lifespan ``1 / churn_rate`` is then counted in that period.
    """
    if churn_rate <= 0:
        raise ValueError(f"churn_rate must be positive, got {churn_rate}")
    expected_lifespan = 1.0 / churn_rate
    return average_order_value * purchase_frequency * expected_lifespan * margin


def predictive_clv(
    bgnbd: BgNbdParams,
    gg: GammaGammaParams,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    m_x: npt.ArrayLike,
    *,
    horizon_months: int,
    monthly_discount_rate: float,
    time_unit_days: float,
    margin: float = 1.0,
    days_per_month: float = DAYS_PER_MONTH,
) -> float | FloatArray:
    """Expected discounted margin over the next ``horizon_months`` months::

        u = days_per_month / time_unit_days                  (one month in model time units)
        E_i = E[Y(i u) | x, t_x, T] - E[Y((i - 1) u) | x, t_x, T]   (BG/NBD purchases in month i)
        CLV = margin * E[M | x, m_x] * sum_{i=1..H} E_i / (1 + d)^i

    where ``E[M | x, m_x]`` is the Gamma-Gamma conditional expected spend, ``d`` the
    monthly discount rate and ``H`` the horizon. This is the month-by-month sum that
    ``lifetimes``' ``customer_lifetime_value`` computes, except that the length of a
    month is converted explicitly into the unit the models were fitted in:
    ``time_unit_days`` is 7 for summaries built in weeks and 1 for days. (Leaving a
    days-per-month step on a model fitted in weeks would make every "month" 30 weeks.)
    """
    if horizon_months < 0:
        raise ValueError(f"horizon_months must be non-negative, got {horizon_months}")
    if time_unit_days <= 0 or days_per_month <= 0:
        raise ValueError("time_unit_days and days_per_month must be positive")
    if monthly_discount_rate <= -1:
        raise ValueError(f"monthly_discount_rate must exceed -1, got {monthly_discount_rate}")
    x_arr, t_x_arr, T_arr, m_arr = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64),
        np.asarray(t_x, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
        np.asarray(m_x, dtype=np.float64),
    )
    month_in_units = days_per_month / time_unit_days
    months = np.arange(horizon_months + 1, dtype=np.float64)
    cumulative = np.stack(
        [np.asarray(expected_purchases(bgnbd, month * month_in_units, x_arr, t_x_arr, T_arr)) for month in months]
    )
    purchases_per_month = np.diff(cumulative, axis=0)
    discount_factors = (1.0 + monthly_discount_rate) ** -months[1:]
    discounted_purchases = np.tensordot(discount_factors, purchases_per_month, axes=1)
    spend = np.asarray(conditional_expected_spend(gg, x_arr, m_arr))
    result = margin * spend * discounted_purchases
    return float(result) if result.ndim == 0 else result
