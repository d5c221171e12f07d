"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2)).

While active, a customer buys as a Poisson process with rate ``lambda``; after each
repeat purchase they become inactive for good with probability ``p``. Across customers
``lambda ~ Gamma(shape r, rate alpha)`` and ``p ~ Beta(a, b)``. A customer is described
by the summary ``(x, t_x, T)`` of :mod:`services.metrics.domain.summaries`; all times
(``t_x``, ``T``, horizons ``t``) are in the time unit the summaries were built in, and
``alpha`` is in that unit too.

Likelihood of one customer, with ``B`` the beta function::

    L = B(a, b + x) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + T)^(r + x))
      + [x > 0] B(a + 1, b + x - 1) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + t_x)^(r + x))

Using ``B(a + 1, b + x - 1) = B(a, b + x) * a / (b + x - 1)`` the log-likelihood is::

    ln L = lnG(r + x) - lnG(r) + r ln(alpha) + lnB(a, b + x) - lnB(a, b)
         + ln( (alpha + T)^-(r + x) + [x > 0] a / (b + x - 1) (alpha + t_x)^-(r + x) )

A customer with ``x = 0`` has no second term: the model lets a customer drop out only
right after a repeat purchase, never at time 0. The fit maximises the weighted sum of
``ln L`` over unique ``(x, t_x, T)`` tuples (see ``summaries.compress``) with
L-BFGS-B on log-parameters, using the analytic gradient.

On the CDNOW sample (2,357 customers, summaries in weeks as of 1997-09-30, see
:mod:`services.metrics.domain.summaries`) this gives ``r = 0.2426``,
``alpha = 4.4136``, ``a = 0.7929``, ``b = 2.4259`` and ``ln L = -9582.43``: the
published ``0.243, 4.414, 0.793, 2.426`` and ``-9582.4``. For customer 1
(``x = 2, t_x = 30.43, T = 38.86``) it forecasts 1.226 purchases in the next 39 weeks
with ``P(alive) = 0.727``, as published.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from services.metrics.domain.identification import identified

FloatArray = npt.NDArray[np.float64]

_LOG_PARAM_BOUND = 25.0
_MAX_ITERATIONS = 2000


def _pinned_to_bounds(log_params: FloatArray) -> bool:
    """An estimate on the search box edge means the likelihood kept rising off to 0 or
    infinity: the data do not identify the model, so it is not reported as converged."""
    return bool(np.any(np.abs(log_params) >= _LOG_PARAM_BOUND - 1e-6))


@dataclass(frozen=True)
class BgNbdParams:
    """Purchase-rate heterogeneity ``Gamma(r, alpha)`` and dropout ``Beta(a, b)``."""

    r: float
    alpha: float
    a: float
    b: float

    def as_log_array(self) -> FloatArray:
        return np.log(np.array([self.r, self.alpha, self.a, self.b], dtype=np.float64))

    @classmethod
    def from_log_array(cls, log_params: FloatArray) -> BgNbdParams:
        r, alpha, a, b = (float(value) for value in np.exp(log_params))
        return cls(r=r, alpha=alpha, a=a, b=b)


@dataclass(frozen=True)
class BgNbdFit:
    """Maximum-likelihood estimate and how the optimiser got there."""

    params: BgNbdParams
    log_likelihood: float
    n_customers: int
    iterations: int
    converged: bool


@dataclass(frozen=True)
class _Summaries:
    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray


def _as_summaries(x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike, weights: npt.ArrayLike | None) -> _Summaries:
    x_arr = np.atleast_1d(np.asarray(x, dtype=np.float64))
    t_x_arr = np.atleast_1d(np.asarray(t_x, dtype=np.float64))
    T_arr = np.atleast_1d(np.asarray(T, dtype=np.float64))
    w_arr = np.ones_like(x_arr) if weights is None else np.atleast_1d(np.asarray(weights, dtype=np.float64))
    if not (x_arr.shape == t_x_arr.shape == T_arr.shape == w_arr.shape) or x_arr.ndim != 1:
        raise ValueError("x, t_x, T and weights must be one-dimensional arrays of equal length")
    if x_arr.size == 0 or w_arr.sum() <= 0:
        raise ValueError("cannot fit the BG/NBD model to zero customers")
    if np.any(x_arr < 0) or np.any(x_arr != np.floor(x_arr)):
        raise ValueError("x must be a non-negative whole number of repeat purchases")
    if np.any(t_x_arr < 0) or np.any(T_arr < t_x_arr) or np.any(w_arr < 0):
        raise ValueError("need 0 <= t_x <= T and non-negative weights")
    if np.any((x_arr == 0) & (t_x_arr != 0)):
        raise ValueError("a customer with x = 0 must have t_x = 0")
    if not np.any((x_arr > 0) & (w_arr > 0)):
        raise ValueError("the BG/NBD model is not identified without a single repeat purchase")
    return _Summaries(x_arr, t_x_arr, T_arr, w_arr)


def _log_likelihood_terms(log_params: FloatArray, data: _Summaries) -> tuple[FloatArray, FloatArray]:
    """Per-tuple log-likelihood and its gradient with respect to the log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    x, t_x, T = data.x, data.t_x, data.T
    repeat = x > 0

    log_alpha_T = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + t_x)
    term_alive = -(r + x) * log_alpha_T
    b_x_minus_1 = np.where(repeat, b + x - 1.0, 1.0)
    term_dropped = np.where(repeat, np.log(a) - np.log(b_x_minus_1) - (r + x) * log_alpha_tx, -np.inf)
    log_mix = np.logaddexp(term_alive, term_dropped)
    share_alive = np.exp(term_alive - log_mix)
    share_dropped = np.exp(term_dropped - log_mix)

    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b) + log_mix

    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - share_alive * log_alpha_T - share_dropped * log_alpha_tx
    d_alpha = r / alpha - (r + x) * (share_alive / (alpha + T) + share_dropped / (alpha + t_x))
    common_ab = digamma(a + b) - digamma(a + b + x)
    d_a = common_ab + share_dropped / a
    d_b = common_ab + digamma(b + x) - digamma(b) - share_dropped / b_x_minus_1
    gradient = np.stack([r * d_r, alpha * d_alpha, a * d_a, b * d_b])
    return ll, gradient


def log_likelihood(
    params: BgNbdParams,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """Weighted total log-likelihood of the summaries under ``params``."""
    data = _as_summaries(x, t_x, T, weights)
    ll, _ = _log_likelihood_terms(params.as_log_array(), data)
    return float(np.dot(data.weights, ll))


def fit_bgnbd(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    warm_start: BgNbdParams | None = None,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit; ``weights[i]`` customers share ``(x[i], t_x[i], T[i])``.

    Starts from ``warm_start`` (e.g. yesterday's parameters) when given, otherwise from
    ``r = alpha = a = b = 1``.
    """
    data = _as_summaries(x, t_x, T, weights)
    total_weight = float(data.weights.sum())

    def mean_negative_ll(log_params: FloatArray) -> tuple[float, FloatArray]:
        ll, gradient = _log_likelihood_terms(log_params, data)
        return (
            -float(np.dot(data.weights, ll)) / total_weight,
            -(gradient @ data.weights) / total_weight,
        )

    start = warm_start.as_log_array() if warm_start is not None else np.zeros(4)
    result = minimize(
        mean_negative_ll,
        np.clip(start, -_LOG_PARAM_BOUND, _LOG_PARAM_BOUND),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_PARAM_BOUND, _LOG_PARAM_BOUND)] * 4,
        options={"maxiter": _MAX_ITERATIONS, "ftol": 1e-14, "gtol": 1e-10},
    )
    return BgNbdFit(
        params=BgNbdParams.from_log_array(result.x),
        log_likelihood=-float(result.fun) * total_weight,
        n_customers=round(total_weight),
        iterations=int(result.nit),
        converged=bool(result.success)
        and not _pinned_to_bounds(result.x)
        and identified(lambda at: mean_negative_ll(at)[1], result.x),
    )


def _dropout_odds(params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """``[x > 0] a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)``: odds of having
    dropped out right after the last purchase versus still being alive."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    b_x_minus_1 = np.where(repeat, b + x - 1.0, 1.0)
    log_odds = np.log(a) - np.log(b_x_minus_1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, np.exp(log_odds), 0.0)


def _scalar_or_array(values: FloatArray) -> float | FloatArray:
    return float(values) if values.ndim == 0 else values


def p_alive(params: BgNbdParams, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike) -> float | FloatArray:
    """Probability the customer is still active at ``T``.

    ``P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))``;
    a customer with no repeat purchase is alive with certainty under the BG/NBD.
    """
    x_arr, t_x_arr, T_arr = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64), np.asarray(t_x, dtype=np.float64), np.asarray(T, dtype=np.float64)
    )
    return _scalar_or_array(1.0 / (1.0 + _dropout_odds(params, x_arr, t_x_arr, T_arr)))


def _expected_purchases_while_alive(params: BgNbdParams, t: FloatArray, x: FloatArray, age: FloatArray) -> FloatArray:
    """``(a + b + x - 1) / (a - 1) * [1 - (1 - z)^(r + x) 2F1(r + x, b + x; a + b + x - 1; z)]``
    with ``z = t / (alpha + age + t)``, evaluated through Euler's transformation
    ``2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z)`` as::

        (a + b + x - 1) / (a - 1) * [1 - (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)]

    The transformed series keeps small upper parameters however large ``x`` gets, where
    the direct form overflows (e.g. ``x = 300`` and a horizon of 10x the age).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_one_minus_z = np.log(alpha + age) - np.log(alpha + age + t)
    z = t / (alpha + age + t)
    series: FloatArray = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    return (a + b + x - 1.0) / (a - 1.0) * (1.0 - np.exp((a - 1.0) * log_one_minus_z) * series)


def expected_purchases(
    params: BgNbdParams, t: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> float | FloatArray:
    """Expected number of purchases in ``(T, T + t]`` given ``(x, t_x, T)``::

        E[Y(t) | x, t_x, T] =
            (a + b + x - 1) / (a - 1)
            * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
                   * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))]
            / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))

    Undefined at exactly ``a = 1`` (the closed form has a removable singularity there).
    """
    t_arr, x_arr, t_x_arr, T_arr = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64),
        np.asarray(x, dtype=np.float64),
        np.asarray(t_x, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
    )
    while_alive = _expected_purchases_while_alive(params, t_arr, x_arr, T_arr)
    return _scalar_or_array(while_alive / (1.0 + _dropout_odds(params, x_arr, t_x_arr, T_arr)))


def simulate_summaries(
    params: BgNbdParams, T: npt.ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Draw ``(x, t_x)`` for customers of ages ``T`` from the BG/NBD generative process.

    Per customer: ``lambda ~ Gamma(r, rate alpha)``, ``p ~ Beta(a, b)``,
    ``N ~ Poisson(lambda T)`` potential repeat purchases and a dropout right after
    repeat purchase ``J ~ Geometric(p)`` (``J >= 1``), so ``x = min(N, J)``. Given
    ``N = n``, purchase times are ``n`` sorted uniforms on ``[0, T]``, whose x-th is
    ``t_x = T * Beta(x, n - x + 1)``.
    """
    ages = np.asarray(T, dtype=np.float64)
    rates = rng.gamma(shape=params.r, scale=1.0 / params.alpha, size=ages.shape)
    dropout = rng.beta(params.a, params.b, size=ages.shape)
    potential = rng.poisson(rates * ages)
    x = np.minimum(potential, rng.geometric(dropout))
    repeat = x > 0
    t_x = np.zeros(ages.shape)
    t_x[repeat] = ages[repeat] * rng.beta(x[repeat], potential[repeat] - x[repeat] + 1)
    return x.astype(np.float64), t_x


def unconditional_expected_purchases(params: BgNbdParams, t: npt.ArrayLike) -> float | FloatArray:
    """Expected repeat purchases of a new customer in ``(0, t]``::

    E[X(t)] = (a + b - 1) / (a - 1)
              * [1 - (alpha / (alpha + t))^r * 2F1(r, b; a + b - 1; t / (alpha + t))]
    """
    t_arr = np.asarray(t, dtype=np.float64)
    zeros = np.zeros_like(t_arr)
    return _scalar_or_array(_expected_purchases_while_alive(params, t_arr, zeros, zeros))
