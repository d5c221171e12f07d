"""The CDNOW reproduction at the metrics level: the 2,357-customer sample as PURCHASE facts through
customers.v1 and the consumer, then a refit in weeks with the calibration ending 1997-09-30.

Published: BG/NBD r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 (Fader, Hardie &
Lee 2005); Gamma-Gamma p = 6.25, q = 3.74, v = 15.44 on the 946 repeat customers (Fader & Hardie
2013). Only transactions up to the calibration end count.
"""

import pytest

from services.metrics.domain.bgnbd import BgNbdParams, p_alive
from services.metrics.domain.clv import predictive_clv
from services.metrics.domain.gamma_gamma import GammaGammaParams
from shared.auth import KeyKind
from tests.integration.metrics.cdnow import cdnow_facts, cdnow_profile
from tests.integration.metrics.harness import Metrics


async def test_cdnow_refit_reproduces_the_published_parameters(metrics: Metrics) -> None:
    facts = cdnow_facts()
    assert len(facts) == 6919
    await metrics.produce(facts)
    await metrics.fold(deadline_s=120)
    assert await metrics.rows("SELECT count(*) AS n FROM metrics.customers") == [{"n": 2357}]

    async with metrics.client() as client:
        response = await client.post(
            "/v1/admin/model/refit", json={"calibration_end": "1997-09-30", "as_of": "1997-09-30"},
            headers=metrics.headers(KeyKind.ADMIN),
        )
        assert response.status_code == 200, response.text
        models = response.json()["models"]
        current = await client.get("/v1/model", headers=metrics.headers())
    bg, gg = models["bgnbd"], models["gamma_gamma"]
    assert {k: round(v, 3) for k, v in bg["params"].items()} == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert (bg["n_customers"], bg["time_unit_days"], bg["calibration_end"]) == (2357, 7.0, "1997-09-30")
    assert {k: round(v, 2) for k, v in gg["params"].items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
    assert gg["n_customers"] == 946
    assert current.json()["models"] == models

    # customer 1 (0001): purchases 1997-01-01, 01-18, 08-02 before the calibration end, 12-12 after.
    # In weeks: x = 2, t_x = 213 / 7, T = 272 / 7; the published P(alive) is 0.9 (lifetimes: 0.906)
    stored = (await metrics.rows(
        "SELECT * FROM metrics.predictions WHERE profile_id = :p", p=cdnow_profile("0001")
    ))[0]
    bgnbd, spend = BgNbdParams(**bg["params"]), GammaGammaParams(**gg["params"])
    x, t_x, T = 2, 213 / 7, 272 / 7
    m_x = (29.73 + 14.96) / 2
    assert stored["p_alive"] == pytest.approx(p_alive(bgnbd, x, t_x, T))
    assert stored["clv_12m"] == pytest.approx(
        predictive_clv(bgnbd, spend, x, t_x, T, m_x, horizon_months=12,
                       monthly_discount_rate=metrics.settings.monthly_discount_rate, time_unit_days=7)
    )
    # the rollup holds the per-customer sums
    totals = await metrics.rows(
        "SELECT (SELECT sum(p_alive) FROM metrics.predictions) AS alive, sum(p_alive) AS rolled, "
        "sum(predicted) AS predicted FROM metrics.clv_rollup"
    )
    assert totals[0]["rolled"] == pytest.approx(totals[0]["alive"])
    assert totals[0]["predicted"] == 2357
