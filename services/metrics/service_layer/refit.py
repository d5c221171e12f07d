"""Refitting BG/NBD and Gamma-Gamma, and rewriting every customer's predictions.

1. Calibration: per-customer (x, t_x, T, m_x) built in SQL from the purchase days on or before
   `calibration_end`, with T measured at `calibration_end`, compressed to distinct tuples with
   counts by a GROUP BY; fitted in a worker thread, warm-started from the last stored fit in the
   same time unit. Both fits are stored as new model versions.
2. Predictions at `as_of` (default: the calibration end, which defaults to today; an as-of before
   the calibration end back-tests the new model on an earlier state): the purchase
   outlook is computed once per distinct (x, t_x, age) tuple and joined back to every customer in
   SQL; then the CLV rollup is rebuilt. Step 2 holds the model lock exclusively, so the fold
   waits for it rather than mixing old and new predictions.

Only one refit runs at a time across processes (a session advisory lock); a second caller gets
`RefitRejected("refit_in_progress")`.
"""

import asyncio
import time
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.adapters.aggregates import rebuild_rollup
from services.metrics.adapters.locks import own_model, release_refit_lock, try_refit_lock
from services.metrics.adapters.models import BGNBD, GAMMA_GAMMA, ModelVersion, add_version, latest_versions
from services.metrics.adapters.predictions import distinct_tuples, replace_all_predictions
from services.metrics.adapters.summaries import (
    CompressedTuples,
    SpendData,
    collect_summaries,
    compressed_tuples,
    spend_data,
)
from services.metrics.domain.bgnbd import BgNbdFit, BgNbdParams, fit_bgnbd
from services.metrics.domain.gamma_gamma import GammaGammaFit, GammaGammaParams, fit_gamma_gamma
from services.metrics.domain.predictions import NonFinitePrediction, purchase_outlook
from services.metrics.service_layer.models import prediction_model
from services.metrics.service_layer.unit_of_work import UnitOfWork


class RefitRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class RefitResult:
    bgnbd: ModelVersion
    gamma_gamma: ModelVersion
    predictions: int
    fit_seconds: float
    total_seconds: float


def _fit(
    tuples: CompressedTuples, spend: SpendData, previous: dict[str, ModelVersion], unit_days: float
) -> tuple[BgNbdFit, GammaGammaFit]:
    last_bg, last_gg = previous.get(BGNBD), previous.get(GAMMA_GAMMA)
    bg_start = BgNbdParams(**last_bg.params) if last_bg and last_bg.time_unit_days == unit_days else None
    gg_start = GammaGammaParams(**last_gg.params) if last_gg else None
    bg = fit_bgnbd(
        tuples.x, tuples.t_x_days / unit_days, tuples.age_days / unit_days, tuples.weights, warm_start=bg_start
    )
    gg = fit_gamma_gamma(spend.x, spend.m_x, spend.weights, warm_start=gg_start)
    return bg, gg


async def refit(
    engine: AsyncEngine,
    *,
    today: date,
    time_unit_days: float,
    monthly_discount_rate: float,
    margin: float,
    calibration_end: date | None = None,
    as_of: date | None = None,
) -> RefitResult:
    calibration_end = calibration_end or as_of or today
    as_of = as_of or calibration_end
    started = time.perf_counter()
    async with engine.connect() as session:
        session = await session.execution_options(isolation_level="AUTOCOMMIT")
        if not await try_refit_lock(session):
            raise RefitRejected("refit_in_progress", "Another refit is running; try again when it has finished.")
        try:
            async with UnitOfWork(engine) as conn:
                await collect_summaries(conn, "calibration", cutoff=calibration_end, as_of=calibration_end)
                tuples = await compressed_tuples(conn, "calibration")
                spend = await spend_data(conn, "calibration")
                previous = await latest_versions(conn)
            if tuples.weights.size == 0:
                raise RefitRejected("no_customers", f"No customer bought on or before {calibration_end}.")
            if spend.weights.size == 0:
                raise RefitRejected("no_repeat_customers", "The spend model needs customers with repeat purchases.")
            fit_started = time.perf_counter()
            bg, gg = await asyncio.to_thread(_fit, tuples, spend, previous, time_unit_days)
            fit_seconds = time.perf_counter() - fit_started
            if gg.params.q <= 1:
                raise RefitRejected(
                    "degenerate_spend_model", "The spend model fitted q <= 1: the mean spend is undefined."
                )
            async with UnitOfWork(engine) as conn:
                await own_model(conn)
                bg_version = await add_version(
                    conn, model=BGNBD, params=asdict(bg.params), log_likelihood=bg.log_likelihood,
                    n_customers=bg.n_customers, iterations=bg.iterations, converged=bg.converged, as_of=as_of,
                    calibration_end=calibration_end, time_unit_days=time_unit_days,
                )
                gg_version = await add_version(
                    conn, model=GAMMA_GAMMA, params=asdict(gg.params), log_likelihood=gg.log_likelihood,
                    n_customers=gg.n_customers, iterations=gg.iterations, converged=gg.converged, as_of=as_of,
                    calibration_end=calibration_end, time_unit_days=time_unit_days,
                )
                model = prediction_model(
                    {BGNBD: bg_version, GAMMA_GAMMA: gg_version},
                    monthly_discount_rate=monthly_discount_rate, margin=margin,
                )
                assert model is not None
                await collect_summaries(conn, "prediction_inputs", cutoff=as_of, as_of=as_of)
                x, t_x, age = await distinct_tuples(conn, "prediction_inputs")
                try:
                    outlook = await asyncio.to_thread(
                        lambda: purchase_outlook(
                            model.bgnbd, x, np.asarray(t_x) / time_unit_days, np.asarray(age) / time_unit_days,
                            time_unit_days=time_unit_days, monthly_discount_rate=monthly_discount_rate,
                        )
                    )
                except NonFinitePrediction as exc:
                    raise RefitRejected(
                        "prediction_not_finite",
                        f"The new fit (converged: {bg.converged}) gives non-finite predictions; the previous "
                        "model stays current. The data may not follow a buy-till-you-die pattern.",
                    ) from exc
                predictions = await replace_all_predictions(
                    conn, summaries="prediction_inputs", tuples=(x, t_x, age), outlook=outlook, model=model,
                    as_of=as_of,
                )
                await rebuild_rollup(conn)
        finally:
            await release_refit_lock(session)
    return RefitResult(bg_version, gg_version, predictions, fit_seconds, time.perf_counter() - started)
