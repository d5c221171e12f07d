"""Per-customer predictions: written in bulk by a refit and by the fold when a customer changes;
both paths must give what the domain functions give, and the rollup must hold their sums."""

from datetime import date

import pytest

from services.metrics.domain.bgnbd import BgNbdParams, p_alive
from services.metrics.domain.clv import predictive_clv
from services.metrics.domain.gamma_gamma import GammaGammaParams
from services.metrics.domain.predictions import HORIZONS_MONTHS
from shared.auth import KeyKind
from shared.facts import CustomerFact, FactKind
from tests.integration.metrics.cdnow import cdnow_facts, cdnow_profile
from tests.integration.metrics.harness import Metrics

PREDICTION = "SELECT * FROM metrics.predictions WHERE profile_id = :p"


async def _domain_view(
    metrics: Metrics, customer: str, as_of: date, bg: BgNbdParams, gg: GammaGammaParams
) -> dict[str, float]:
    rows = await metrics.rows(
        "SELECT day, amount FROM metrics.purchase_days WHERE profile_id = :p AND day <= :d ORDER BY day",
        p=cdnow_profile(customer), d=as_of,
    )
    first, last = rows[0]["day"], rows[-1]["day"]
    x = len(rows) - 1
    m_x = sum(float(r["amount"]) for r in rows[1:]) / x if x else 0.0  # type: ignore[arg-type]
    t_x, T = (last - first).days / 7, (as_of - first).days / 7  # type: ignore[operator]
    view = {"p_alive": float(p_alive(bg, x, t_x, T))}
    for h in HORIZONS_MONTHS:
        view[f"clv_{h}m"] = float(
            predictive_clv(bg, gg, x, t_x, T, m_x, horizon_months=h, monthly_discount_rate=0.01, time_unit_days=7)
        )
    return view


async def test_refit_and_fold_predictions_agree_with_the_domain(metrics: Metrics) -> None:
    metrics.today = date(1998, 7, 10)
    await metrics.produce(cdnow_facts())
    await metrics.fold(deadline_s=120)
    async with metrics.client() as client:
        response = await client.post(
            "/v1/admin/model/refit", json={"calibration_end": "1997-09-30", "as_of": "1998-06-30"},
            headers=metrics.headers(KeyKind.ADMIN),
        )
    assert response.status_code == 200, response.text
    models = response.json()["models"]
    bg, gg = BgNbdParams(**models["bgnbd"]["params"]), GammaGammaParams(**models["gamma_gamma"]["params"])

    # refit path: predictions at as_of 1998-06-30 from every purchase up to then
    for customer in ("0001", "0002", "0010", "0100", "1000"):
        stored = (await metrics.rows(PREDICTION, p=cdnow_profile(customer)))[0]
        assert stored["as_of"] == date(1998, 6, 30)
        for column, value in (await _domain_view(metrics, customer, date(1998, 6, 30), bg, gg)).items():
            assert stored[column] == pytest.approx(value), (customer, column)

    # fold path: a new purchase of customer 0001 refreshes its prediction as of today
    new = CustomerFact(
        fact_id="late-1", kind=FactKind.PURCHASE, profile_id=cdnow_profile("0001"),
        occurred_at="1998-07-10T12:00:00Z", amount="42.00",  # type: ignore[arg-type]
    )
    cancel = CustomerFact(
        fact_id="late-2", kind=FactKind.CANCELLATION, profile_id=cdnow_profile("0002"),
        occurred_at="1998-07-09T12:00:00Z",  # type: ignore[arg-type]
    )
    await metrics.produce([new, cancel])
    await metrics.fold()
    stored = (await metrics.rows(PREDICTION, p=cdnow_profile("0001")))[0]
    assert stored["as_of"] == metrics.today
    for column, value in (await _domain_view(metrics, "0001", metrics.today, bg, gg)).items():
        assert stored[column] == pytest.approx(value), column
    cancelled = (await metrics.rows(PREDICTION, p=cdnow_profile("0002")))[0]
    assert (cancelled["p_alive"], cancelled["clv_12m"]) == (0.0, 0.0)

    sums = (await metrics.rows(
        "SELECT (SELECT sum(clv_12m) FROM metrics.predictions) AS direct, sum(clv_12m) AS rolled, "
        "(SELECT sum(p_alive) FROM metrics.predictions) AS alive, sum(p_alive) AS rolled_alive "
        "FROM metrics.clv_rollup"
    ))[0]
    assert sums["rolled"] == pytest.approx(sums["direct"])
    assert sums["rolled_alive"] == pytest.approx(sums["alive"])
