"""The Gamma-Gamma model of monetary value (Fader & Hardie 2013, "The Gamma-Gamma Model
of Monetary Value", building on Colombo & Jiang 1999).

Each transaction value is ``Gamma(shape p, rate nu)`` around a customer's mean spend
``p / nu``, and across customers ``nu ~ Gamma(shape q, rate v)``. A customer is
described by ``x`` repeat transactions with mean value ``m_x`` (see
:mod:`services.metrics.domain.summaries`: repeat purchase periods only, the first
purchase excluded). The model is fitted on repeat customers only (``x > 0``);
customers with ``x = 0`` carry no information about spend and are dropped.

Density of the observed mean::

    f(m_x | p, q, v, x) = G(p x + q) / (G(p x) G(q)) * v^q m_x^(p x - 1) x^(p x) / (v + x m_x)^(p x + q)

Conditional expected average transaction value::

    E[M | p, q, v, m_x, x] = p (v + x m_x) / (p x + q - 1)
                           = (q - 1) / (p x + q - 1) * p v / (q - 1) + p x / (p x + q - 1) * m_x

a weighted average of the population mean ``p v / (q - 1)`` and the customer's own
``m_x``; it needs ``q > 1``.

On the 946 CDNOW repeat customers (``m_x`` = mean of the repeat days' totals in the
39-week calibration period) the fit gives ``p = 6.2496``, ``q = 3.7442``,
``v = 15.4435`` (``ln L = -4055.92``), the note's ``6.25, 3.74, 15.44``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from services.metrics.domain.identification import identified

FloatArray = npt.NDArray[np.float64]

_LOG_PARAM_BOUND = 25.0
_MAX_ITERATIONS = 2000


def _pinned_to_bounds(log_params: FloatArray) -> bool:
    """An estimate on the search box edge means the likelihood kept rising off to 0 or
    infinity: the data do not identify the model, so it is not reported as converged."""
    return bool(np.any(np.abs(log_params) >= _LOG_PARAM_BOUND - 1e-6))


@dataclass(frozen=True)
class GammaGammaParams:
    """Transaction-value shape ``p`` and the ``Gamma(q, v)`` mixing of its rate."""

    p: float
    q: float
    v: float

    def as_log_array(self) -> FloatArray:
        return np.log(np.array([self.p, self.q, self.v], dtype=np.float64))

    @classmethod
    def from_log_array(cls, log_params: FloatArray) -> GammaGammaParams:
        p, q, v = (float(value) for value in np.exp(log_params))
        return cls(p=p, q=q, v=v)

    @property
    def population_mean_spend(self) -> float:
        """``E[M] = p v / (q - 1)``, the expected transaction value of a random customer."""
        if self.q <= 1.0:
            raise ValueError(f"the population mean spend needs q > 1, got q = {self.q}")
        return self.p * self.v / (self.q - 1.0)


@dataclass(frozen=True)
class GammaGammaFit:
    """Maximum-likelihood estimate and how the optimiser got there."""

    params: GammaGammaParams
    log_likelihood: float
    n_customers: int
    iterations: int
    converged: bool


@dataclass(frozen=True)
class _RepeatCustomers:
    x: FloatArray
    m_x: FloatArray
    weights: FloatArray


def _repeat_customers(x: npt.ArrayLike, m_x: npt.ArrayLike, weights: npt.ArrayLike | None) -> _RepeatCustomers:
    x_arr = np.atleast_1d(np.asarray(x, dtype=np.float64))
    m_arr = np.atleast_1d(np.asarray(m_x, dtype=np.float64))
    w_arr = np.ones_like(x_arr) if weights is None else np.atleast_1d(np.asarray(weights, dtype=np.float64))
    if not (x_arr.shape == m_arr.shape == w_arr.shape) or x_arr.ndim != 1:
        raise ValueError("x, m_x and weights must be one-dimensional arrays of equal length")
    repeat = x_arr > 0
    if np.any(m_arr[repeat] <= 0):
        raise ValueError("the Gamma-Gamma model needs a positive m_x for every repeat customer")
    kept = _RepeatCustomers(x_arr[repeat], m_arr[repeat], w_arr[repeat])
    if kept.x.size == 0 or kept.weights.sum() <= 0:
        raise ValueError("cannot fit the Gamma-Gamma model without repeat customers (x > 0)")
    return kept


def _log_likelihood_terms(log_params: FloatArray, data: _RepeatCustomers) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-density of ``m_x`` and its gradient with respect to the log-parameters."""
    p, q, v = np.exp(log_params)
    x, m_x = data.x, data.m_x
    px = p * x
    log_total = np.log(v + x * m_x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * log_total
    )
    psi_px_q = digamma(px + q)
    d_p = x * (psi_px_q - digamma(px) + np.log(m_x) + np.log(x) - log_total)
    d_q = psi_px_q - digamma(q) + np.log(v) - log_total
    d_v = q / v - (px + q) / (v + x * m_x)
    gradient = np.stack([p * d_p, q * d_q, v * d_v])
    return ll, gradient


def log_likelihood(
    params: GammaGammaParams,
    x: npt.ArrayLike,
    m_x: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Weighted total log-likelihood of the repeat customers' ``m_x`` under ``params``."""
    data = _repeat_customers(x, m_x, weights)
    ll, _ = _log_likelihood_terms(params.as_log_array(), data)
    return float(np.dot(data.weights, ll))


def fit_gamma_gamma(
    x: npt.ArrayLike,
    m_x: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    warm_start: GammaGammaParams | None = None,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on the repeat customers (``x > 0``) among the input.

    Starts from ``warm_start`` when given, otherwise from ``p = q = v = 1``.
    ``n_customers`` of the result counts the repeat customers actually used.
    """
    data = _repeat_customers(x, m_x, weights)
    total_weight = float(data.weights.sum())

    def mean_negative_ll(log_params: FloatArray) -> tuple[float, FloatArray]:
        ll, gradient = _log_likelihood_terms(log_params, data)
        return (
            -float(np.dot(data.weights, ll)) / total_weight,
            -(gradient @ data.weights) / total_weight,
        )

    start = warm_start.as_log_array() if warm_start is not None else np.zeros(3)
    result = minimize(
        mean_negative_ll,
        np.clip(start, -_LOG_PARAM_BOUND, _LOG_PARAM_BOUND),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * 3,
        options={"maxiter": _MAX_ITERATIONS, "ftol": 1e-14, "gtol": 1e-10},
    )
    return GammaGammaFit(
        params=GammaGammaParams.from_log_array(result.x),
        log_likelihood=-float(result.fun) * total_weight,
        n_customers=round(total_weight),
        iterations=int(result.nit),
        converged=bool(result.success)
        and not _pinned_to_bounds(result.x)
        and identified(lambda at: mean_negative_ll(at)[1], result.x),
    )


def conditional_expected_spend(params: GammaGammaParams, x: npt.ArrayLike, m_x: npt.ArrayLike) -> float | FloatArray:
    """Expected average transaction value given ``x`` repeat purchases averaging ``m_x``.

    ``p (v + x m_x) / (p x + q - 1)``; for ``x = 0`` this is the population mean
    ``p v / (q - 1)`` whatever ``m_x`` is.
    """
    p, q, v = params.p, params.q, params.v
    if q <= 1.0:
        raise ValueError(f"the conditional expected spend needs q > 1, got q = {q}")
    x_arr, m_arr = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(m_x, dtype=np.float64))
    own_mean = np.where(x_arr > 0, m_arr, 0.0)
    result = p * (v + x_arr * own_mean) / (p * x_arr + q - 1.0)
    return float(result) if result.ndim == 0 else result
