"""Fitted model versions (metrics.model_versions): every fit is kept; the latest per model is current."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

BGNBD, GAMMA_GAMMA = "bgnbd", "gamma_gamma"


@dataclass(frozen=True)
class ModelVersion:
    id: int
    model: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    iterations: int
    converged: bool
    as_of: date
    calibration_end: date
    time_unit_days: float
    fitted_at: datetime


def _version(row: Any) -> ModelVersion:
    params = row.params if isinstance(row.params, dict) else orjson.loads(row.params)
    return ModelVersion(
        id=row.id, model=row.model, params={k: float(v) for k, v in params.items()},
        log_likelihood=row.log_likelihood, n_customers=row.n_customers, iterations=row.iterations,
        converged=row.converged, as_of=row.as_of, calibration_end=row.calibration_end,
        time_unit_days=row.time_unit_days, fitted_at=row.fitted_at,
    )


async def latest_versions(conn: AsyncConnection) -> dict[str, ModelVersion]:
    rows = await conn.execute(
        text(
            "SELECT DISTINCT ON (model) id, model, params, log_likelihood, n_customers, iterations, converged, "
            "as_of, calibration_end, time_unit_days, fitted_at FROM metrics.model_versions ORDER BY model, id DESC"
        )
    )
    return {row.model: _version(row) for row in rows}


async def add_version(
    conn: AsyncConnection,
    *,
    model: str,
    params: dict[str, float],
    log_likelihood: float,
    n_customers: int,
    iterations: int,
    converged: bool,
    as_of: date,
    calibration_end: date,
    time_unit_days: float,
) -> ModelVersion:
    row = (
        await conn.execute(
            text(
                "INSERT INTO metrics.model_versions (model, params, log_likelihood, n_customers, iterations, "
                "converged, as_of, calibration_end, time_unit_days) VALUES (:model, CAST(:params AS jsonb), :ll, "
                ":n, :it, :conv, :as_of, :cal, :unit) RETURNING id, model, params, log_likelihood, n_customers, "
                "iterations, converged, as_of, calibration_end, time_unit_days, fitted_at"
            ),
            {
                "model": model, "params": orjson.dumps(params).decode(), "ll": log_likelihood, "n": n_customers,
                "it": iterations, "conv": converged, "as_of": as_of, "cal": calibration_end, "unit": time_unit_days,
            },
        )
    ).one()
    return _version(row)
