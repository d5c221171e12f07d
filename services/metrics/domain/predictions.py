"""Per-customer predictive values from a fitted BG/NBD + Gamma-Gamma pair.

Predictive CLV over `h` months factors into a spend part and a purchase part::

    CLV_h = margin * E[M | x, m_x] * D_h(x, t_x, T)
    D_h   = sum_{i=1..h} (E[Y(i u)] - E[Y((i - 1) u)]) / (1 + d)^i,   u = one month in model units

which is `clv.predictive_clv` term by term. `D_h` depends only on (x, t_x, T), so it is
computed once per unique tuple (many customers share one) for every served horizon at once.
A customer with an explicit cancellation on or before the as-of date is not alive: every
predictive value is 0.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.metrics.domain.bgnbd import BgNbdParams, expected_purchases, p_alive
from services.metrics.domain.clv import DAYS_PER_MONTH
from services.metrics.domain.gamma_gamma import GammaGammaParams, conditional_expected_spend

FloatArray = npt.NDArray[np.float64]

HORIZONS_MONTHS: tuple[int, ...] = (3, 6, 12, 24, 36)
OUTLOOK_MONTHS = 12  # expected purchases are served for the next 12 months


@dataclass(frozen=True)
class PredictionModel:
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    bgnbd_version: int
    gamma_gamma_version: int
    time_unit_days: float
    monthly_discount_rate: float
    margin: float


@dataclass(frozen=True)
class Prediction:
    p_alive: float
    expected_purchases: float  # over OUTLOOK_MONTHS
    expected_spend: float
    clv: tuple[float, ...]  # one per HORIZONS_MONTHS

    @classmethod
    def nothing(cls) -> "Prediction":
        return cls(0.0, 0.0, 0.0, (0.0,) * len(HORIZONS_MONTHS))


@dataclass(frozen=True)
class PurchaseOutlook:
    """Per (x, t_x, T): P(alive), expected purchases over OUTLOOK_MONTHS, and D_h per horizon."""

    p_alive: FloatArray
    expected_purchases: FloatArray
    discounted_purchases: FloatArray  # shape (n, len(HORIZONS_MONTHS))


class NonFinitePrediction(ValueError):
    """The model gives NaN or infinite values for these customers (a degenerate, far-off fit)."""


def purchase_outlook(
    params: BgNbdParams,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    time_unit_days: float,
    monthly_discount_rate: float,
) -> PurchaseOutlook:
    """`t_x` and `T` in model time units (days / time_unit_days). Raises `NonFinitePrediction`
    rather than let a NaN reach the stored predictions and the sums over them."""
    x_arr = np.atleast_1d(np.asarray(x, dtype=np.float64))
    t_x_arr = np.atleast_1d(np.asarray(t_x, dtype=np.float64))
    T_arr = np.atleast_1d(np.asarray(T, dtype=np.float64))
    month = DAYS_PER_MONTH / time_unit_days
    discounted = np.zeros((x_arr.size, len(HORIZONS_MONTHS)))
    running = np.zeros(x_arr.size)
    previous = np.zeros(x_arr.size)
    outlook_purchases = previous
    for i in range(1, max(*HORIZONS_MONTHS, OUTLOOK_MONTHS) + 1):  # month by month: memory O(n x horizons)
        cumulative = np.asarray(expected_purchases(params, i * month, x_arr, t_x_arr, T_arr), dtype=np.float64)
        running += (cumulative - previous) / (1.0 + monthly_discount_rate) ** i
        previous = cumulative
        if i in HORIZONS_MONTHS:
            discounted[:, HORIZONS_MONTHS.index(i)] = running
        if i == OUTLOOK_MONTHS:
            outlook_purchases = cumulative
    outlook = PurchaseOutlook(
        p_alive=np.atleast_1d(np.asarray(p_alive(params, x_arr, t_x_arr, T_arr), dtype=np.float64)),
        expected_purchases=outlook_purchases,
        discounted_purchases=discounted,
    )
    if not (np.isfinite(outlook.discounted_purchases).all() and np.isfinite(outlook.p_alive).all()):
        raise NonFinitePrediction(f"{params} gives non-finite expected purchases")
    return outlook


@dataclass(frozen=True)
class CustomerInputs:
    """What a prediction needs of one customer, in days."""

    x: int
    recency_days: float
    age_days: float
    repeat_spend: float
    cancelled: bool


def predict_many(model: PredictionModel, customers: Sequence[CustomerInputs]) -> list[Prediction]:
    """Predictive values of several customers at once (one vectorised outlook)."""
    predictions = [Prediction.nothing()] * len(customers)
    live = [i for i, c in enumerate(customers) if not c.cancelled]
    if not live:
        return predictions
    unit = model.time_unit_days
    x = np.array([customers[i].x for i in live], dtype=np.float64)
    outlook = purchase_outlook(
        model.bgnbd, x,
        np.array([customers[i].recency_days for i in live]) / unit,
        np.array([customers[i].age_days for i in live]) / unit,
        time_unit_days=unit, monthly_discount_rate=model.monthly_discount_rate,
    )
    spend = np.atleast_1d(np.asarray(conditional_expected_spend(
        model.gamma_gamma, x, np.array([customers[i].repeat_spend for i in live], dtype=np.float64)
    )))
    if not np.isfinite(spend).all():
        raise NonFinitePrediction(f"{model.gamma_gamma} gives a non-finite expected spend")
    values = model.margin * spend[:, None] * outlook.discounted_purchases
    for row, i in enumerate(live):
        predictions[i] = Prediction(
            p_alive=float(outlook.p_alive[row]),
            expected_purchases=float(outlook.expected_purchases[row]),
            expected_spend=float(spend[row]),
            clv=tuple(float(v) for v in values[row]),
        )
    return predictions


def predict(
    model: PredictionModel,
    *,
    x: int,
    recency_days: float,
    age_days: float,
    repeat_spend: float,
    cancelled: bool,
) -> Prediction:
    """One customer's predictive values at an age of `age_days` since the first purchase."""
    return predict_many(model, [CustomerInputs(x, recency_days, age_days, repeat_spend, cancelled)])[0]
