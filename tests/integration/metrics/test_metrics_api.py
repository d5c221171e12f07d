"""The metrics API: worked examples for simple CLV, the summary and one customer; keys and error codes."""

import math

import pytest
from prometheus_client import generate_latest

from services.metrics.entrypoints.gauges import refresh_gauges
from shared.auth import KeyKind
from shared.facts import FactKind as K
from tests.integration.metrics.harness import Metrics, fact, profile

# as of 2024-06-30 with inactivity 90 days:
#   A buys 2023-07-01 and 2024-01-01 (100 each) -> lost 2024-03-31
#   B buys 2024-01-01 (50)                      -> lost 2024-03-31
#   C buys 2024-06-01 (30)                      -> lost 2024-08-30, still a customer
SHOP = [
    fact("a1", K.PURCHASE, "A", "2023-07-01", "100", segment="gold", channel="web"),
    fact("a2", K.PURCHASE, "A", "2024-01-01", "100"),
    fact("b1", K.PURCHASE, "B", "2024-01-01", "50", segment="gold", channel="web"),
    fact("c1", K.PURCHASE, "C", "2024-06-01", "30", segment="silver", channel="store"),
    fact("m1", K.PURCHASE, "M", "2024-02-01", "10"),
    fact("m2", K.MERGED, "C", "2024-06-02", merged_profile_id=profile("M")),
]


@pytest.fixture
async def shop(metrics: Metrics) -> Metrics:
    await metrics.produce(SHOP[:4])
    await metrics.fold()
    return metrics


async def test_simple_clv_worked_example(shop: Metrics) -> None:
    async with shop.client() as client:
        response = await client.get("/v1/clv", params={"method": "simple"}, headers=shop.headers())
    assert response.status_code == 200, response.text
    total = response.json()["total"]
    # 365-day window (2023-07-01, 2024-06-30]: A is a customer at the start; A and B are lost in it;
    # B and C are acquired; start 1, end 1 -> average 1, churn 2 / 1 = 2 a year -> lifespan 0.5 years
    assert total["detail"]["annual_churn_rate"] == pytest.approx(2.0)
    assert total["detail"]["expected_lifespan_years"] == pytest.approx(0.5)
    # AOV = (200 + 50 + 30) / 4 orders = 70
    assert total["detail"]["average_order_value"] == pytest.approx(70.0)
    # customer-days to as-of: A 2023-07-01..2024-03-30 = 274, B 2024-01-01..03-30 = 90, C 06-01..06-30 = 30
    years = (274 + 90 + 30) / 365.25
    assert total["detail"]["orders_per_customer_year"] == pytest.approx(4 / years)
    assert total["average"] == pytest.approx(70.0 * (4 / years) * 0.5)
    assert total["customers"] == 3


async def test_summary_and_gauges(shop: Metrics) -> None:
    async with shop.client() as client:
        response = await client.get("/v1/summary", headers=shop.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["customers"], body["active"], body["lost"]) == (3, 1, 2)
    assert body["churn"]["365d"] == {"rate": 2.0, "rate_vs_start": 2.0, "lost": 2}
    assert body["clv_average"]["predictive"] is None and body["expected_active"] is None
    # historical: (100 + 100 e^(-0.1 * 184 / 365.25) + 50 + 30) / 3
    historical = (100 + 100 * math.exp(-0.1 * 184 / 365.25) + 50 + 30) / 3
    assert body["clv_average"]["historical"] == pytest.approx(historical)

    await refresh_gauges(shop.engine, today=shop.today, margin=1.0)
    exported = generate_latest().decode()
    assert 'touchpoint_churn_rate{variant="average",window_days="365"} 2.0' in exported  # labels sorted
    assert 'touchpoint_customers{state="active"} 1.0' in exported
    assert 'touchpoint_customers{state="lost"} 2.0' in exported
    assert "profile" not in "".join(line for line in exported.splitlines() if line.startswith("touchpoint_c"))
    # HTTP metrics are labelled by route template, never by a path holding a profile id
    assert 'route="/v1/summary"' in exported


async def test_one_customer_as_of_a_date(shop: Metrics) -> None:
    async with shop.client() as client:
        response = await client.get(f"/v1/customers/{profile('A')}", headers=shop.headers())
        earlier = await client.get(
            f"/v1/customers/{profile('A')}", params={"as_of": "2023-12-31"}, headers=shop.headers()
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["state"], body["acquired_on"], body["lost_on"], body["cohort"]) == (
        "lost", "2023-07-01", "2024-03-31", "2023-07"
    )
    # weeks: x = 1 repeat day, t_x = 184 days, T = 365 days, m_x = 100
    assert body["summary"] == {"x": 1, "t_x": 184 / 7, "T": 365 / 7, "m_x": 100.0, "time_unit_days": 7.0}
    assert body["clv"]["historical"] == pytest.approx(100 + 100 * math.exp(-0.1 * 184 / 365.25))
    # own AOV 100 x 2 orders per (366 days / 365.25) years x population lifespan 0.5 years
    assert body["clv"]["simple"] == pytest.approx(100 * 2 / (366 / 365.25) * 0.5)
    assert body["clv"]["predictive"] is None and body["p_alive"] is None  # no model yet
    assert earlier.status_code == 200, earlier.text
    # as seen on 2023-12-31: one purchase, lapsed on 07-01 + 90 days (the 2024 purchase is not known yet)
    assert (earlier.json()["state"], earlier.json()["orders"], earlier.json()["lost_on"]) == (
        "lost", 1, "2023-09-29"
    )


async def test_keys_and_error_codes(shop: Metrics) -> None:
    await shop.produce(SHOP[4:])
    await shop.fold()
    async with shop.client() as client:
        cases = [
            (await client.get("/v1/churn"), 401, "unauthorized"),
            (await client.post("/v1/admin/model/refit", headers=shop.headers()), 403, "forbidden"),
            (await client.get("/v1/churn", params={"by": "colour"}, headers=shop.headers()), 422, "invalid_request"),
            (await client.get("/v1/churn", params={"window_days": 0}, headers=shop.headers()), 422,
             "invalid_request"),
            (await client.get("/v1/clv", params={"method": "predictive"}, headers=shop.headers()), 409, "no_model"),
            (await client.get("/v1/clv", params={"method": "predictive", "horizon_months": 5},
                              headers=shop.headers()), 422, "invalid_request"),  # 3, 6, 12, 24 or 36
            (await client.get(f"/v1/customers/{profile('nobody')}", headers=shop.headers()), 404,
             "customer_not_found"),
            (await client.get(f"/v1/customers/{profile('M')}", headers=shop.headers()), 404, "customer_merged"),
            (await client.post("/v1/admin/model/refit", json={"as_of": "2020-01-01"},
                               headers=shop.headers(KeyKind.ADMIN)), 409, "no_customers"),
        ]
        models = await client.get("/v1/model", headers=shop.headers(KeyKind.ADMIN))
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text
        assert response.json()["error"]["message"]
    assert models.status_code == 200 and models.json() == {"models": {}}


async def test_retention_table_over_http(shop: Metrics) -> None:
    async with shop.client() as client:
        response = await client.get("/v1/retention", params={"as_of": "2024-04-15"}, headers=shop.headers())
    assert response.status_code == 200, response.text
    cohorts = {c["cohort"]: c for c in response.json()["cohorts"]}
    # 2023-07 cohort (A): active at the end of Jul .. Feb, lost on 03-31 -> not active at the end of March;
    # month 9 (April) has not ended on 04-15
    assert cohorts["2023-07"]["active"] == [1, 1, 1, 1, 1, 1, 1, 1, 0]
    # 2024-01 cohort (B): Jan, Feb active, lost on 03-31
    assert cohorts["2024-01"] == {"cohort": "2024-01", "size": 1, "active": [1, 1, 0], "retention": [1.0, 1.0, 0.0]}
    assert "2024-06" not in cohorts  # C is acquired after the as-of date
