"""BG/NBD against the published CDNOW results of Fader, Hardie & Lee (2005).

The calibration summaries are built from the raw CDNOW sample transactions: 39-week
calibration period ending 1997-09-30, weeks as the time unit, same-day purchases merged.
"""

from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from services.metrics.domain.bgnbd import (
    BgNbdParams,
    _as_summaries,
    _log_likelihood_terms,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    p_alive,
    simulate_summaries,
    unconditional_expected_purchases,
)
from services.metrics.domain.summaries import WEEK_UNIT, compress, summarize_customers

CDNOW_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "CDNOW_sample.txt"
PUBLISHED = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_LOG_LIKELIHOOD = -9582.4


@cache
def cdnow_calibration() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    log = []
    for line in CDNOW_SAMPLE.read_text().splitlines():
        _, customer, day, _, dollars = line.split()
        log.append((int(customer), date(int(day[:4]), int(day[4:6]), int(day[6:])), float(dollars)))
    summaries = summarize_customers(log, as_of=date(1997, 9, 30), unit_days=WEEK_UNIT).values()
    return (
        np.array([s.x for s in summaries], dtype=np.float64),
        np.array([s.t_x for s in summaries]),
        np.array([s.T for s in summaries]),
    )


@cache
def cdnow_fit_from_scratch() -> tuple[float, float, float, float, float, int, bool]:
    fit = fit_bgnbd(*compress(*cdnow_calibration()))
    p = fit.params
    return p.r, p.alpha, p.a, p.b, fit.log_likelihood, fit.n_customers, fit.converged


def test_cdnow_fit_reproduces_published_parameters_and_log_likelihood() -> None:
    r, alpha, a, b, ll, n_customers, converged = cdnow_fit_from_scratch()
    assert converged
    assert n_customers == 2357
    assert round(r, 3) == pytest.approx(PUBLISHED.r, abs=1e-9)
    assert round(alpha, 3) == pytest.approx(PUBLISHED.alpha, abs=1e-9)
    assert round(a, 3) == pytest.approx(PUBLISHED.a, abs=1e-9)
    assert round(b, 3) == pytest.approx(PUBLISHED.b, abs=1e-9)
    assert round(ll, 1) == pytest.approx(PUBLISHED_LOG_LIKELIHOOD, abs=1e-9)


def test_compressed_and_per_customer_fits_agree() -> None:
    x, t_x, T = cdnow_calibration()
    per_customer = fit_bgnbd(x, t_x, T)
    r, alpha, a, b, ll, _, _ = cdnow_fit_from_scratch()
    assert per_customer.n_customers == 2357
    assert per_customer.log_likelihood == pytest.approx(ll, abs=1e-6)
    got = per_customer.params
    assert [got.r, got.alpha, got.a, got.b] == pytest.approx([r, alpha, a, b], rel=1e-5)


def test_warm_start_from_published_parameters_converges_to_the_same_optimum() -> None:
    r, alpha, a, b, ll, _, _ = cdnow_fit_from_scratch()
    warm = fit_bgnbd(*compress(*cdnow_calibration()), warm_start=PUBLISHED)
    assert warm.converged
    assert warm.log_likelihood == pytest.approx(ll, abs=1e-6)
    got = warm.params
    assert [got.r, got.alpha, got.a, got.b] == pytest.approx([r, alpha, a, b], rel=1e-4)


def test_log_likelihood_at_published_parameters() -> None:
    assert log_likelihood(PUBLISHED, *cdnow_calibration()) == pytest.approx(PUBLISHED_LOG_LIKELIHOOD, abs=0.05)


def test_published_conditional_expectation_and_p_alive_for_customer_one() -> None:
    """Paper, section 4: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in the next 39 weeks."""
    r, alpha, a, b, *_ = cdnow_fit_from_scratch()
    fitted = BgNbdParams(r=r, alpha=alpha, a=a, b=b)
    for params in (fitted, PUBLISHED):
        assert round(float(expected_purchases(params, 39, 2, 30.43, 38.86)), 3) == pytest.approx(1.226)
        assert round(float(p_alive(params, 2, 30.43, 38.86)), 3) == pytest.approx(0.727)


def test_gradient_matches_finite_differences() -> None:
    data = _as_summaries(*cdnow_calibration(), None)
    point = np.log(np.array([0.3, 5.0, 0.7, 2.0]))
    _, gradient = _log_likelihood_terms(point, data)

    def total(log_params: np.ndarray) -> float:
        ll, _ = _log_likelihood_terms(log_params, data)
        return float(ll.sum())

    numeric = approx_fprime(point, total, 1e-6)
    assert gradient.sum(axis=1) == pytest.approx(numeric, rel=1e-4)


def test_customer_without_repeat_purchase_is_alive_and_matches_the_unconditional_forecast() -> None:
    assert p_alive(PUBLISHED, 0, 0.0, 20.0) == 1.0
    # a brand-new customer (x = 0, t_x = 0, T = 0) has E[Y(t) | 0, 0, 0] = E[X(t)]
    for t in (1.0, 10.0, 52.0, 78.0):
        assert expected_purchases(PUBLISHED, t, 0, 0.0, 0.0) == pytest.approx(
            unconditional_expected_purchases(PUBLISHED, t), rel=1e-12
        )


def test_expectations_vectorise_start_at_zero_and_grow_with_the_horizon() -> None:
    horizons = np.array([0.0, 13.0, 26.0, 39.0, 52.0])
    forecast = expected_purchases(PUBLISHED, horizons, 2, 30.43, 38.86)
    assert isinstance(forecast, np.ndarray)
    assert forecast[0] == 0.0
    assert np.all(np.diff(forecast) > 0)
    alive = p_alive(PUBLISHED, np.array([0, 2, 2]), np.array([0.0, 30.43, 5.0]), np.array([38.86] * 3))
    assert isinstance(alive, np.ndarray)
    # x = 0 -> 1; a long silence since the last purchase lowers P(alive)
    assert alive[0] == 1.0 and alive[2] < alive[1] < 1.0
    unconditional = unconditional_expected_purchases(PUBLISHED, np.array([0.0, 39.0]))
    assert isinstance(unconditional, np.ndarray) and unconditional[0] == 0.0


@pytest.mark.parametrize(
    ("t", "x", "t_x", "T", "reference"),
    [
        # references evaluated from eq. 10 in 60-digit arithmetic (mpmath)
        (39.0, 2, 30.43, 38.86, 1.2260281747671444),
        (52.0, 50, 38.0, 39.0, 41.32248161320394),
        (1e4, 300, 1000.0, 1000.0, 931.0005705474147),  # the direct 2F1 overflows here
        (1e6, 5, 4.0, 5.0, 263.2606906692756),
    ],
)
def test_expected_purchases_is_accurate_for_heavy_buyers_and_long_horizons(
    t: float, x: int, t_x: float, T: float, reference: float
) -> None:
    assert expected_purchases(PUBLISHED, t, x, t_x, T) == pytest.approx(reference, rel=1e-12)


def test_fit_recovers_the_parameters_of_simulated_customers() -> None:
    truth = BgNbdParams(r=0.5, alpha=20.0, a=0.8, b=2.5)
    rng = np.random.default_rng(7)
    T = rng.integers(1, 2001, size=100_000).astype(np.float64)
    x, t_x = simulate_summaries(truth, T, rng)
    fit = fit_bgnbd(*compress(x, t_x, T))
    assert fit.converged
    got = fit.params
    assert got.r == pytest.approx(truth.r, rel=0.05)
    assert got.alpha == pytest.approx(truth.alpha, rel=0.05)
    assert got.a == pytest.approx(truth.a, rel=0.1)
    assert got.b == pytest.approx(truth.b, rel=0.1)


def test_invalid_summaries_are_rejected() -> None:
    with pytest.raises(ValueError, match="t_x = 0"):
        fit_bgnbd([0], [1.0], [2.0])
    with pytest.raises(ValueError, match="t_x <= T"):
        fit_bgnbd([1], [3.0], [2.0])
    with pytest.raises(ValueError, match="whole number"):
        fit_bgnbd([1.5], [1.0], [2.0])
    with pytest.raises(ValueError, match="zero customers"):
        fit_bgnbd([], [], [])
    with pytest.raises(ValueError, match="not identified"):
        fit_bgnbd([0, 0], [0.0, 0.0], [3.0, 4.0])
