"""Per-customer predictive values (metrics.predictions), written by the fold for changed
customers and rewritten in bulk after every fit."""

from collections.abc import Collection, Mapping
from datetime import date
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.domain.predictions import HORIZONS_MONTHS, Prediction, PredictionModel, PurchaseOutlook

CLV_COLUMNS = tuple(f"clv_{h}m" for h in HORIZONS_MONTHS)
OUTLOOK_CHUNK = 50_000


async def load_predictions(conn: AsyncConnection, ids: Collection[UUID]) -> dict[UUID, Prediction]:
    if not ids:
        return {}
    rows = await conn.execute(
        text(
            f"SELECT profile_id, p_alive, expected_purchases, expected_spend, {', '.join(CLV_COLUMNS)} "
            "FROM metrics.predictions WHERE profile_id = ANY(:ids)"
        ),
        {"ids": list(ids)},
    )
    return {
        row.profile_id: Prediction(
            row.p_alive, row.expected_purchases, row.expected_spend, tuple(getattr(row, c) for c in CLV_COLUMNS)
        )
        for row in rows
    }


async def save_predictions(
    conn: AsyncConnection, model: PredictionModel | None, predictions: Mapping[UUID, tuple[Prediction, date] | None]
) -> None:
    gone = [pid for pid, p in predictions.items() if p is None]
    if gone:
        await conn.execute(text("DELETE FROM metrics.predictions WHERE profile_id = ANY(:ids)"), {"ids": gone})
    rows = sorted((pid, p) for pid, p in predictions.items() if p is not None)
    if not rows or model is None:
        return
    params: dict[str, object] = {
        "pid": [pid for pid, _ in rows],
        "as_of": [as_of for _, (_, as_of) in rows],
        "p_alive": [p.p_alive for _, (p, _) in rows],
        "expected": [p.expected_purchases for _, (p, _) in rows],
        "spend": [p.expected_spend for _, (p, _) in rows],
        "bv": model.bgnbd_version,
        "gv": model.gamma_gamma_version,
    }
    for i, column in enumerate(CLV_COLUMNS):
        params[column] = [p.clv[i] for _, (p, _) in rows]
    clv_arrays = ", ".join(f"CAST(:{c} AS float8[])" for c in CLV_COLUMNS)
    await conn.execute(
        text(
            "INSERT INTO metrics.predictions (profile_id, bgnbd_version, gamma_gamma_version, as_of, p_alive, "
            f"expected_purchases, expected_spend, {', '.join(CLV_COLUMNS)}) "
            "SELECT pid, :bv, :gv, as_of, p_alive, expected, spend, "
            f"{', '.join(CLV_COLUMNS)} FROM unnest(CAST(:pid AS uuid[]), CAST(:as_of AS date[]), "
            f"CAST(:p_alive AS float8[]), CAST(:expected AS float8[]), CAST(:spend AS float8[]), {clv_arrays}) "
            f"AS u(pid, as_of, p_alive, expected, spend, {', '.join(CLV_COLUMNS)}) "
            "ON CONFLICT (profile_id) DO UPDATE SET "
            + ", ".join(
                f"{c} = EXCLUDED.{c}"
                for c in ("bgnbd_version", "gamma_gamma_version", "as_of", "p_alive", "expected_purchases",
                          "expected_spend", *CLV_COLUMNS)
            )
        ),
        params,
    )


async def distinct_tuples(conn: AsyncConnection, summaries: str) -> tuple[list[int], list[int], list[int]]:
    row = (
        await conn.execute(
            text(
                "SELECT array_agg(x) AS x, array_agg(t_x) AS t_x, array_agg(age) AS age "
                f"FROM (SELECT DISTINCT x, t_x, age FROM {summaries}) AS tuples"
            )
        )
    ).one()
    return list(row.x or []), list(row.t_x or []), list(row.age or [])


async def replace_all_predictions(
    conn: AsyncConnection,
    *,
    summaries: str,
    tuples: tuple[list[int], list[int], list[int]],
    outlook: PurchaseOutlook,
    model: PredictionModel,
    as_of: date,
) -> int:
    """Rewrite every prediction from the summaries table and the outlook of its distinct tuples.

    Spend is the Gamma-Gamma conditional expectation p (v + x m_x) / (p x + q - 1), as in
    `gamma_gamma.conditional_expected_spend`; a customer cancelled on or before `as_of` gets 0.
    """
    x, t_x, age = tuples
    d_columns = [f"d_{c}" for c in CLV_COLUMNS]
    await conn.execute(text("DROP TABLE IF EXISTS pg_temp.prediction_outlook"))
    await conn.execute(
        text(
            "CREATE TEMP TABLE prediction_outlook (x int, t_x int, age int, p_alive float8, expected float8, "
            + ", ".join(f"{c} float8" for c in d_columns) + ") ON COMMIT DROP"
        )
    )
    arrays = ", ".join(f"CAST(:{c} AS float8[])" for c in d_columns)
    for start in range(0, len(x), OUTLOOK_CHUNK):  # chunks keep the parameter lists small
        part = slice(start, start + OUTLOOK_CHUNK)
        params: dict[str, object] = {
            "x": x[part], "t_x": t_x[part], "age": age[part],
            "p_alive": outlook.p_alive[part].tolist(), "expected": outlook.expected_purchases[part].tolist(),
        }
        for i, column in enumerate(d_columns):
            params[column] = outlook.discounted_purchases[part, i].tolist()
        await conn.execute(
            text(
                "INSERT INTO prediction_outlook SELECT * FROM unnest(CAST(:x AS int[]), CAST(:t_x AS int[]), "
                f"CAST(:age AS int[]), CAST(:p_alive AS float8[]), CAST(:expected AS float8[]), {arrays})"
            ),
            params,
        )
    await conn.execute(text("ANALYZE prediction_outlook"))
    gg = model.gamma_gamma
    await conn.execute(text("TRUNCATE metrics.predictions"))
    alive = "(c.cancelled_on IS NULL OR c.cancelled_on < c.acquired_on OR c.cancelled_on > :as_of)"
    spend = "(:p * (:v + s.x * s.m_x) / (:p * s.x + :q - 1))"
    result = await conn.execute(
        text(
            "INSERT INTO metrics.predictions (profile_id, bgnbd_version, gamma_gamma_version, as_of, p_alive, "
            f"expected_purchases, expected_spend, {', '.join(CLV_COLUMNS)}) "
            f"SELECT s.profile_id, :bv, :gv, :as_of, CASE WHEN {alive} THEN o.p_alive ELSE 0 END, "
            f"CASE WHEN {alive} THEN o.expected ELSE 0 END, CASE WHEN {alive} THEN {spend} ELSE 0 END, "
            + ", ".join(f"CASE WHEN {alive} THEN :margin * {spend} * o.d_{c} ELSE 0 END" for c in CLV_COLUMNS)
            + f" FROM {summaries} s JOIN prediction_outlook o USING (x, t_x, age) "
            "JOIN metrics.customers c ON c.profile_id = s.profile_id"
        ),
        {
            "bv": model.bgnbd_version, "gv": model.gamma_gamma_version, "as_of": as_of,
            "p": gg.p, "q": gg.q, "v": gg.v, "margin": model.margin,
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
