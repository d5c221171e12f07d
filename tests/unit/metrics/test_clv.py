import math
from datetime import date
from functools import partial

import numpy as np
import pytest

from services.metrics.domain.bgnbd import BgNbdParams, expected_purchases
from services.metrics.domain.clv import (
    DAYS_PER_MONTH,
    CashFlow,
    average_order_value,
    historical_clv,
    predictive_clv,
    purchase_frequency,
    simple_clv,
)
from services.metrics.domain.gamma_gamma import GammaGammaParams, conditional_expected_spend

CDNOW_BGNBD_WEEKS = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
CDNOW_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, v=15.44)

ACQUIRED = date(2024, 1, 1)
FLOWS = [
    CashFlow(on=date(2024, 1, 1), revenue=100.0, cost=60.0),  # day 0: +40
    CashFlow(on=date(2024, 7, 1), revenue=200.0, cost=120.0),  # day 182: +80
    CashFlow(on=date(2024, 7, 15), revenue=-50.0, cost=-30.0),  # day 196: refund, goods back: -20
    CashFlow(on=date(2025, 1, 1), revenue=50.0, cost=20.0),  # day 366: +30
]


def test_historical_clv_without_discounting_is_net_contribution_to_date() -> None:
    # as of 2024-12-31: 40 + 80 - 20 = 100 (the 2025 order is in the future)
    to_date = historical_clv(FLOWS, acquired_on=ACQUIRED, annual_discount_rate=0.0, as_of=date(2024, 12, 31))
    assert to_date == pytest.approx(100.0)
    # with no as_of every flow counts: 100 + 30 = 130
    assert historical_clv(FLOWS, acquired_on=ACQUIRED, annual_discount_rate=0.0) == pytest.approx(130.0)


def test_historical_clv_discounts_continuously_to_the_acquisition_date() -> None:
    # rho = 10% a year, continuously compounded, year = 365.25 days:
    #   day 0:     40 * e^0                       = 40
    #   day 182:   80 * e^(-0.1 * 182 / 365.25)   = 80 * 0.951392... = 76.11138
    #   day 196:  -20 * e^(-0.1 * 196 / 365.25)   = -20 * 0.947753... = -18.95505
    #   total                                     = 97.15633
    expected = 40 + 80 * math.exp(-0.1 * 182 / 365.25) - 20 * math.exp(-0.1 * 196 / 365.25)
    got = historical_clv(FLOWS, acquired_on=ACQUIRED, annual_discount_rate=0.1, as_of=date(2024, 12, 31))
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(97.15633, abs=1e-5)


def test_historical_clv_one_year_out_is_worth_e_to_minus_rho() -> None:
    flows = [CashFlow(on=date(2021, 1, 1), revenue=100.0)]
    # 2020-01-01 -> 2021-01-01 is 366 days (leap year), i.e. 366 / 365.25 years
    got = historical_clv(flows, acquired_on=date(2020, 1, 1), annual_discount_rate=0.05)
    assert got == pytest.approx(100 * math.exp(-0.05 * 366 / 365.25))


def test_historical_clv_rejects_flows_before_acquisition_and_negative_rates() -> None:
    with pytest.raises(ValueError, match="precedes acquisition"):
        historical_clv(FLOWS, acquired_on=date(2024, 2, 1), annual_discount_rate=0.1)
    with pytest.raises(ValueError, match="non-negative"):
        historical_clv(FLOWS, acquired_on=ACQUIRED, annual_discount_rate=-0.1)


def test_simple_clv_worked_example_with_refunds() -> None:
    # one year: 1,200 orders, 60,000 gross revenue, 3,600 refunded -> net 56,400
    aov = average_order_value(60_000 - 3_600, 1_200)  # 56,400 / 1,200 = 47
    assert aov == pytest.approx(47.0)
    # 400 customers over 12 months -> 1,200 / 400 / 12 = 0.25 orders per customer per month
    frequency = purchase_frequency(1_200, 400, n_periods=12)
    assert frequency == pytest.approx(0.25)
    # monthly churn 5% -> expected lifespan 1 / 0.05 = 20 months; margin 30%
    # CLV = 47 * 0.25 * 20 * 0.3 = 70.5
    clv = simple_clv(average_order_value=aov, purchase_frequency=frequency, churn_rate=0.05, margin=0.3)
    assert clv == pytest.approx(70.5)


def test_simple_clv_rejects_non_positive_churn() -> None:
    with pytest.raises(ValueError, match="churn_rate"):
        simple_clv(average_order_value=10.0, purchase_frequency=1.0, churn_rate=0.0)
    with pytest.raises(ValueError):
        average_order_value(100.0, 0)


def test_predictive_clv_is_the_discounted_monthly_sum() -> None:
    # customer 1 of CDNOW, model in weeks: one month = 30.4375 / 7 = 4.348... weeks
    x, t_x, T, m_x = 2, 30.43, 38.86, 22.35
    month = DAYS_PER_MONTH / 7
    spend = conditional_expected_spend(CDNOW_GAMMA_GAMMA, x, m_x)
    cumulative = [expected_purchases(CDNOW_BGNBD_WEEKS, i * month, x, t_x, T) for i in range(4)]
    by_hand = sum(0.5 * spend * (cumulative[i] - cumulative[i - 1]) / 1.01**i for i in range(1, 4))
    got = predictive_clv(
        CDNOW_BGNBD_WEEKS,
        CDNOW_GAMMA_GAMMA,
        x,
        t_x,
        T,
        m_x,
        horizon_months=3,
        monthly_discount_rate=0.01,
        time_unit_days=7,
        margin=0.5,
    )
    assert got == pytest.approx(by_hand, rel=1e-12)


def test_predictive_clv_without_discount_telescopes_to_total_expected_purchases() -> None:
    # sum over 12 months of monthly increments = E[Y(12 months)]; 12 months = 365.25 days
    x, t_x, T, m_x = 2, 30.43, 38.86, 22.35
    spend = conditional_expected_spend(CDNOW_GAMMA_GAMMA, x, m_x)
    year = expected_purchases(CDNOW_BGNBD_WEEKS, 365.25 / 7, x, t_x, T)
    got = predictive_clv(
        CDNOW_BGNBD_WEEKS,
        CDNOW_GAMMA_GAMMA,
        x,
        t_x,
        T,
        m_x,
        horizon_months=12,
        monthly_discount_rate=0.0,
        time_unit_days=7,
    )
    assert got == pytest.approx(spend * year, rel=1e-12)


def test_predictive_clv_does_not_depend_on_the_model_time_unit() -> None:
    # the same model expressed per day: alpha (a time scale) and all times x 7
    in_days = BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
    x = np.array([0.0, 2.0, 7.0])
    t_x = np.array([0.0, 30.43, 35.0])
    T = np.array([38.86, 38.86, 38.0])
    m_x = np.array([0.0, 22.35, 40.0])
    two_years = partial(predictive_clv, horizon_months=24, monthly_discount_rate=0.01)
    weekly = two_years(CDNOW_BGNBD_WEEKS, CDNOW_GAMMA_GAMMA, x, t_x, T, m_x, time_unit_days=7)
    daily = two_years(in_days, CDNOW_GAMMA_GAMMA, x, 7 * t_x, 7 * T, m_x, time_unit_days=1)
    assert isinstance(weekly, np.ndarray)
    assert weekly == pytest.approx(daily, rel=1e-10)
    # a weekly model read as if its unit were days (the classic mistake) treats every
    # month as 30.4 weeks and badly overstates value
    mistaken = two_years(CDNOW_BGNBD_WEEKS, CDNOW_GAMMA_GAMMA, x, t_x, T, m_x, time_unit_days=1)
    assert np.all(mistaken > 2 * weekly)


def test_predictive_clv_zero_horizon_is_zero_and_bad_inputs_raise() -> None:
    got = predictive_clv(
        CDNOW_BGNBD_WEEKS,
        CDNOW_GAMMA_GAMMA,
        2,
        30.43,
        38.86,
        22.35,
        horizon_months=0,
        monthly_discount_rate=0.01,
        time_unit_days=7,
    )
    assert got == 0.0
    with pytest.raises(ValueError, match="time_unit_days"):
        predictive_clv(
            CDNOW_BGNBD_WEEKS,
            CDNOW_GAMMA_GAMMA,
            2,
            30.43,
            38.86,
            22.35,
            horizon_months=12,
            monthly_discount_rate=0.01,
            time_unit_days=0,
        )
