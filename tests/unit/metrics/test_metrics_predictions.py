"""Per-customer predictive values against `clv.predictive_clv` and the BG/NBD functions."""

import pytest

from services.metrics.domain.bgnbd import BgNbdParams, expected_purchases, p_alive
from services.metrics.domain.clv import predictive_clv
from services.metrics.domain.gamma_gamma import GammaGammaParams
from services.metrics.domain.predictions import (
    HORIZONS_MONTHS,
    NonFinitePrediction,
    Prediction,
    PredictionModel,
    predict,
    purchase_outlook,
)

CDNOW = PredictionModel(
    bgnbd=BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426), gamma_gamma=GammaGammaParams(p=6.25, q=3.74, v=15.44),
    bgnbd_version=1, gamma_gamma_version=2, time_unit_days=7.0, monthly_discount_rate=0.01, margin=0.3,
)


@pytest.mark.parametrize(
    ("x", "t_x_days", "age_days", "m_x"), [(2, 213, 272, 22.345), (0, 0, 100, 0.0), (7, 30, 40, 5)]
)
def test_predict_matches_the_clv_module(x: int, t_x_days: int, age_days: int, m_x: float) -> None:
    got = predict(CDNOW, x=x, recency_days=t_x_days, age_days=age_days, repeat_spend=m_x, cancelled=False)
    t_x, T = t_x_days / 7, age_days / 7
    for horizon, value in zip(HORIZONS_MONTHS, got.clv, strict=True):
        assert value == pytest.approx(
            predictive_clv(CDNOW.bgnbd, CDNOW.gamma_gamma, x, t_x, T, m_x, horizon_months=horizon,
                           monthly_discount_rate=0.01, time_unit_days=7, margin=0.3)
        )
    assert got.p_alive == pytest.approx(p_alive(CDNOW.bgnbd, x, t_x, T))
    assert got.expected_purchases == pytest.approx(expected_purchases(CDNOW.bgnbd, 365.25 / 7, x, t_x, T))


def test_outlook_is_vectorised_over_distinct_tuples() -> None:
    outlook = purchase_outlook(CDNOW.bgnbd, [0, 2], [0.0, 30.4], [10.0, 38.9], time_unit_days=7,
                               monthly_discount_rate=0.0)
    assert outlook.discounted_purchases.shape == (2, len(HORIZONS_MONTHS))
    # without discounting D_12 telescopes to the expected purchases over 12 months
    assert outlook.discounted_purchases[:, HORIZONS_MONTHS.index(12)] == pytest.approx(outlook.expected_purchases)


def test_cancelled_customers_have_nothing_ahead() -> None:
    got = predict(CDNOW, x=3, recency_days=10, age_days=20, repeat_spend=10.0, cancelled=True)
    assert got == Prediction.nothing()


def test_a_degenerate_fit_is_refused_instead_of_storing_nan() -> None:
    runaway = BgNbdParams(r=899492.7, alpha=16056511.6, a=2526.8, b=8612.6)
    with pytest.raises(NonFinitePrediction):
        purchase_outlook(runaway, [2], [10.0], [20.0], time_unit_days=7, monthly_discount_rate=0.01)


def test_the_api_offers_exactly_the_stored_horizons() -> None:
    from services.metrics.entrypoints.http.reports import Horizon

    assert tuple(h.value for h in Horizon) == HORIZONS_MONTHS
