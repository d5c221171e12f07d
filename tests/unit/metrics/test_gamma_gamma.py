"""Gamma-Gamma against Fader & Hardie's (2013) note, fitted on the CDNOW repeat customers."""

from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from services.metrics.domain.gamma_gamma import (
    GammaGammaParams,
    _log_likelihood_terms,
    _repeat_customers,
    conditional_expected_spend,
    fit_gamma_gamma,
    log_likelihood,
)
from services.metrics.domain.summaries import WEEK_UNIT, summarize_customers

CDNOW_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "CDNOW_sample.txt"
PUBLISHED = GammaGammaParams(p=6.25, q=3.74, v=15.44)


@cache
def cdnow_frequency_and_spend() -> tuple[np.ndarray, np.ndarray]:
    log = []
    for line in CDNOW_SAMPLE.read_text().splitlines():
        _, customer, day, _, dollars = line.split()
        log.append((int(customer), date(int(day[:4]), int(day[4:6]), int(day[6:])), float(dollars)))
    summaries = summarize_customers(log, as_of=date(1997, 9, 30), unit_days=WEEK_UNIT).values()
    return np.array([s.x for s in summaries], dtype=np.float64), np.array([s.m_x for s in summaries])


def test_cdnow_fit_reproduces_published_parameters() -> None:
    x, m_x = cdnow_frequency_and_spend()
    fit = fit_gamma_gamma(x, m_x)
    assert fit.converged
    assert fit.n_customers == 946  # the 2,357 - 1,411 customers with x > 0
    assert round(fit.params.p, 2) == pytest.approx(PUBLISHED.p, abs=1e-9)
    assert round(fit.params.q, 2) == pytest.approx(PUBLISHED.q, abs=1e-9)
    assert round(fit.params.v, 2) == pytest.approx(PUBLISHED.v, abs=1e-9)
    assert fit.log_likelihood == pytest.approx(log_likelihood(fit.params, x, m_x), abs=1e-9)
    assert fit.log_likelihood >= log_likelihood(PUBLISHED, x, m_x)


def test_warm_start_converges_to_the_same_optimum_in_fewer_iterations() -> None:
    x, m_x = cdnow_frequency_and_spend()
    cold = fit_gamma_gamma(x, m_x)
    warm = fit_gamma_gamma(x, m_x, warm_start=PUBLISHED)
    assert warm.converged
    assert warm.iterations < cold.iterations
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, abs=1e-6)
    assert [warm.params.p, warm.params.q, warm.params.v] == pytest.approx(
        [cold.params.p, cold.params.q, cold.params.v], rel=1e-4
    )


def test_gradient_matches_finite_differences() -> None:
    data = _repeat_customers(*cdnow_frequency_and_spend(), None)
    point = np.log(np.array([5.0, 3.0, 12.0]))
    _, gradient = _log_likelihood_terms(point, data)

    def total(log_params: np.ndarray) -> float:
        ll, _ = _log_likelihood_terms(log_params, data)
        return float(ll.sum())

    assert gradient.sum(axis=1) == pytest.approx(approx_fprime(point, total, 1e-6), rel=1e-4)


def test_customers_without_repeat_purchases_are_ignored_and_weights_mean_copies() -> None:
    x = np.array([1.0, 2.0, 3.0, 1.0, 4.0, 2.0])
    m_x = np.array([10.0, 14.0, 9.0, 30.0, 12.0, 20.0])
    baseline = fit_gamma_gamma(x, m_x)
    with_one_timers = fit_gamma_gamma(np.append(x, [0.0, 0.0]), np.append(m_x, [0.0, 0.0]))
    assert with_one_timers.n_customers == baseline.n_customers == 6
    assert with_one_timers.log_likelihood == pytest.approx(baseline.log_likelihood, abs=1e-6)
    doubled = fit_gamma_gamma(x, m_x, weights=np.full(6, 2.0))
    copied = fit_gamma_gamma(np.tile(x, 2), np.tile(m_x, 2))
    assert doubled.n_customers == 12
    assert doubled.log_likelihood == pytest.approx(copied.log_likelihood, abs=1e-6)


def test_fit_recovers_the_parameters_of_simulated_spend() -> None:
    rng = np.random.default_rng(11)
    truth = GammaGammaParams(p=6.0, q=4.0, v=15.0)
    x = rng.integers(1, 8, size=50_000).astype(np.float64)
    nu = rng.gamma(shape=truth.q, scale=1.0 / truth.v, size=x.size)
    # the mean of x Gamma(p, rate nu) transactions is Gamma(p x, rate nu x)
    m_x = rng.gamma(shape=truth.p * x, scale=1.0 / (nu * x))
    got = fit_gamma_gamma(x, m_x).params
    assert [got.p, got.q, got.v] == pytest.approx([truth.p, truth.q, truth.v], rel=0.05)


def test_conditional_expected_spend_by_hand() -> None:
    params = GammaGammaParams(p=6.0, q=4.0, v=15.0)
    # x = 2, m_x = 20: p (v + x m_x) / (p x + q - 1) = 6 * (15 + 40) / (12 + 3) = 330 / 15 = 22
    assert conditional_expected_spend(params, 2, 20.0) == pytest.approx(22.0)
    # x = 0: the population mean p v / (q - 1) = 90 / 3 = 30, whatever m_x says
    assert conditional_expected_spend(params, 0, 0.0) == pytest.approx(30.0)
    assert params.population_mean_spend == pytest.approx(30.0)
    spend = conditional_expected_spend(params, np.array([0, 2]), np.array([99.0, 20.0]))
    assert isinstance(spend, np.ndarray)
    assert spend.tolist() == pytest.approx([30.0, 22.0])


def test_published_parameters_give_a_shrunk_estimate_for_customer_one() -> None:
    # x = 2, m_x = 22.35 (CDNOW customer 1) with p = 6.25, q = 3.74, v = 15.44:
    # 6.25 * (15.44 + 2 * 22.35) / (6.25 * 2 + 3.74 - 1) = 6.25 * 60.14 / 15.24 = 24.664...
    # between the customer's own 22.35 and the population mean 6.25 * 15.44 / 2.74 = 35.22
    assert conditional_expected_spend(PUBLISHED, 2, 22.35) == pytest.approx(6.25 * 60.14 / 15.24)


def test_unidentified_fit_is_not_reported_as_converged() -> None:
    # identical spend everywhere: the likelihood keeps rising as p, q -> infinity
    assert not fit_gamma_gamma([1, 1, 1], [5.0, 5.0, 5.0]).converged


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="repeat customers"):
        fit_gamma_gamma([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match="positive m_x"):
        fit_gamma_gamma([1, 2], [10.0, -1.0])
    with pytest.raises(ValueError, match="q > 1"):
        conditional_expected_spend(GammaGammaParams(p=1.0, q=0.9, v=1.0), 1, 10.0)
