"""The SQL prefix sums over metrics.daily_population against the pure churn module on the same
customers: head counts, losses, both rates and cohort retention must agree exactly."""

import pytest

from services.metrics.domain.churn import churn_window, cohort_retention
from tests.integration.metrics.harness import Metrics
from tests.integration.metrics.population import Person

AS_OF_DATES = ("2023-02-28", "2023-07-15", "2024-01-01", "2024-03-31", "2024-06-30", "2024-10-31")


def expected_groups(persons: list[Person], by: str | None, as_of: str, days: int) -> dict[str, tuple]:  # type: ignore[type-arg]
    from datetime import date

    day = date.fromisoformat(as_of)
    groups: dict[str, list[Person]] = {}
    for person in persons:
        groups.setdefault(person.group(by), []).append(person)
    out = {}
    for name, members in groups.items():
        if min(min(p.purchase_days) for p in members) > day:
            continue  # nobody of this group acquired yet: no row
        w = churn_window([p.lifespan for p in members], as_of=day, days=days)
        out[name] = (w.customers_at_start, w.customers_at_end, w.acquired, w.lost, w.churn_rate, w.standard_churn_rate)
    return out


async def test_churn_agrees_with_the_pure_module(metrics: Metrics, folded: list[Person]) -> None:
    async with metrics.client() as client:
        for as_of in AS_OF_DATES:
            for days in (30, 90, 365):
                for by in (None, "segment", "channel", "cohort"):
                    params = {"as_of": as_of, "window_days": days} | ({"by": by} if by else {})
                    response = await client.get("/v1/churn", params=params, headers=metrics.headers())
                    assert response.status_code == 200, response.text
                    body = response.json()
                    rows = body["groups"] if by else [body["total"]]
                    got = {
                        r["group"]: (r["start"], r["end"], r["acquired"], r["lost"], r["rate"], r["rate_vs_start"])
                        for r in rows
                    }
                    assert got == pytest.approx(expected_groups(folded, by, as_of, days)), (as_of, days, by, got)


async def test_cohort_retention_agrees_with_the_pure_module(metrics: Metrics, folded: list[Person]) -> None:
    from datetime import date

    async with metrics.client() as client:
        for as_of in AS_OF_DATES:
            response = await client.get("/v1/retention", params={"as_of": as_of}, headers=metrics.headers())
            assert response.status_code == 200, response.text
            got = [(c["cohort"], c["size"], tuple(c["active"])) for c in response.json()["cohorts"]]
            expected = cohort_retention([p.lifespan for p in folded], as_of=date.fromisoformat(as_of))
            assert got == [(c.cohort.strftime("%Y-%m"), c.size, c.active) for c in expected], as_of
    assert len(expected) > 12  # the last as-of sees every cohort


async def test_maintained_rollup_matches_a_scan_of_the_customers(metrics: Metrics, folded: list[Person]) -> None:
    scan = await metrics.rows(
        "SELECT segment, count(*) AS n, sum(historical_clv) AS historical, sum(orders) AS orders, "
        "sum(gross_revenue - refunded - cancelled_amount) AS net FROM metrics.customers "
        "WHERE acquired_on IS NOT NULL GROUP BY segment ORDER BY segment"
    )
    async with metrics.client() as client:
        response = await client.get(
            "/v1/clv", params={"method": "historical", "by": "segment"}, headers=metrics.headers()
        )
    assert response.status_code == 200, response.text
    groups = response.json()["groups"]
    assert [g["group"] for g in groups] == [r["segment"] for r in scan]
    for group, row in zip(groups, scan, strict=True):
        assert group["customers"] == row["n"]
        assert group["total"] == pytest.approx(row["historical"])
        assert group["average"] == pytest.approx(row["historical"] / row["n"])
        assert group["detail"]["net_revenue"] == pytest.approx(float(row["net"]))
    assert sum(g["customers"] for g in groups) == len(folded)
