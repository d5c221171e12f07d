"""Merges move history to the survivor; erasures remove a person from every table and aggregate."""

from datetime import date
from decimal import Decimal

from services.metrics.adapters.models import add_version
from shared.facts import FactKind as K
from tests.integration.metrics.harness import Metrics, fact, profile

DAYS = "SELECT day, amount, orders FROM metrics.purchase_days WHERE profile_id = :p ORDER BY day"
CUSTOMER = "SELECT * FROM metrics.customers WHERE profile_id = :p"
POPULATION = "SELECT day, acquired, lost FROM metrics.daily_population WHERE acquired <> 0 OR lost <> 0 ORDER BY day"
ROLLUP = "SELECT segment, customers, orders, net_revenue FROM metrics.clv_rollup WHERE customers <> 0 ORDER BY segment"

KNOWN = [
    fact("k1", K.PURCHASE, "known", "2024-01-10", "100", segment="gold", channel="web"),
    fact("k2", K.PURCHASE, "known", "2024-02-01", "20"),
    fact("k3", K.COST, "known", "2024-02-02", "3"),
]
ANON = [
    fact("n1", K.PURCHASE, "anon", "2024-01-05", "30", segment="bronze", channel="ads"),
    fact("n2", K.PURCHASE, "anon", "2024-02-01", "10"),
    fact("n3", K.REFUND, "anon", "2024-02-03", "4"),
]


async def test_merge_moves_the_merged_history_to_the_survivor(metrics: Metrics) -> None:
    await metrics.produce(KNOWN + ANON)
    await metrics.fold()
    await metrics.produce([fact("m1", K.MERGED, "known", "2024-02-10", merged_profile_id=profile("anon"))])
    await metrics.fold()

    # days re-keyed and same-day merged: 01-05 = 30 (anon), 01-10 = 100, 02-01 = 20 + 10
    assert await metrics.rows(DAYS, p=profile("known")) == [
        {"day": date(2024, 1, 5), "amount": Decimal("30"), "orders": 1},
        {"day": date(2024, 1, 10), "amount": Decimal("100"), "orders": 1},
        {"day": date(2024, 2, 1), "amount": Decimal("30"), "orders": 2},
    ]
    known = (await metrics.rows(CUSTOMER, p=profile("known")))[0]
    assert known["acquired_on"] == date(2024, 1, 5)  # the earliest of the two
    assert (known["frequency"], known["recency_days"], known["repeat_spend"]) == (2, 27, 65.0)  # (100 + 30) / 2
    assert (known["orders"], known["gross_revenue"], known["refunded"], known["cost"]) == (
        4, Decimal("160"), Decimal("4"), Decimal("3")
    )
    # segment: last write wins on event time (gold set on 01-10 beats bronze on 01-05);
    # channel: the earliest purchase's (ads on 01-05)
    assert (known["segment"], known["channel"]) == ("gold", "ads")
    assert await metrics.rows(CUSTOMER, p=profile("anon")) == []
    assert await metrics.rows(DAYS, p=profile("anon")) == []
    # one customer left: acquired 01-05, lost 02-01 + 90 = 05-01
    assert await metrics.rows(POPULATION) == [
        {"day": date(2024, 1, 5), "acquired": 1, "lost": 0},
        {"day": date(2024, 5, 1), "acquired": 0, "lost": 1},
    ]
    # net revenue 160 - 4
    assert await metrics.rows(ROLLUP) == [
        {"segment": "gold", "customers": 1, "orders": 4, "net_revenue": Decimal("156")}
    ]

    # a late fact about the merged profile is folded into the survivor
    await metrics.produce([fact("n4", K.PURCHASE, "anon", "2024-03-01", "7")])
    await metrics.fold()
    assert (await metrics.rows(DAYS, p=profile("known")))[-1] == {
        "day": date(2024, 3, 1), "amount": Decimal("7"), "orders": 1
    }
    assert await metrics.rows(CUSTOMER, p=profile("anon")) == []


async def test_merge_chains_collapse_and_replays_are_harmless(metrics: Metrics) -> None:
    await metrics.produce(KNOWN + ANON + [fact("t1", K.PURCHASE, "third", "2024-01-20", "5")])
    await metrics.produce([
        fact("m1", K.MERGED, "known", "2024-02-10", merged_profile_id=profile("anon")),
        fact("m2", K.MERGED, "third", "2024-02-11", merged_profile_id=profile("known")),
    ])
    await metrics.fold()
    await metrics.produce([
        fact("m1", K.MERGED, "known", "2024-02-10", merged_profile_id=profile("anon")),  # replayed
        fact("n5", K.PURCHASE, "anon", "2024-03-02", "1"),  # anon -> known -> third
    ])
    await metrics.fold()
    survivors = await metrics.rows("SELECT merged_profile_id, survivor_id FROM metrics.merged_profiles")
    assert {(r["merged_profile_id"], r["survivor_id"]) for r in survivors} == {
        (profile("anon"), profile("third")), (profile("known"), profile("third"))
    }
    third = (await metrics.rows(CUSTOMER, p=profile("third")))[0]
    # days 01-05, 01-10, 01-20, 02-01, 03-02: orders 1 + 1 + 1 + 2 + 1
    assert (third["acquired_on"], third["frequency"], third["orders"]) == (date(2024, 1, 5), 4, 6)
    assert await metrics.rows("SELECT count(*) AS n FROM metrics.customers") == [{"n": 1}]


async def test_erasure_removes_the_customer_everywhere(metrics: Metrics) -> None:
    async with metrics.engine.begin() as conn:  # a stored fit: the fold then keeps predictions per customer
        for model, params in (("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
                              ("gamma_gamma", {"p": 6.25, "q": 3.74, "v": 15.44})):
            await add_version(
                conn, model=model, params=params, log_likelihood=-1.0, n_customers=1, iterations=1, converged=True,
                as_of=date(2024, 1, 1), calibration_end=date(2024, 1, 1), time_unit_days=7.0,
            )
    await metrics.produce(KNOWN + ANON)
    await metrics.fold()
    assert len(await metrics.rows("SELECT * FROM metrics.predictions")) == 2

    await metrics.produce([fact("e1", K.ERASED, "anon", "2024-03-02")])
    await metrics.fold()
    for table in ("customers", "purchase_days", "deduction_days", "predictions"):
        assert await metrics.rows(f"SELECT * FROM metrics.{table} WHERE profile_id = :p", p=profile("anon")) == []
    # only 'known' is left in the aggregates: acquired 01-10, lost 02-01 + 90 = 05-01
    assert await metrics.rows(POPULATION) == [
        {"day": date(2024, 1, 10), "acquired": 1, "lost": 0},
        {"day": date(2024, 5, 1), "acquired": 0, "lost": 1},
    ]
    assert await metrics.rows(ROLLUP) == [
        {"segment": "gold", "customers": 1, "orders": 2, "net_revenue": Decimal("120")}
    ]
    predicted = await metrics.rows("SELECT sum(predicted) AS n FROM metrics.clv_rollup")
    assert predicted == [{"n": 1}]

    # a late fact about the erased person is skipped, not resurrected
    await metrics.produce([fact("n9", K.PURCHASE, "anon", "2024-03-05", "9")])
    await metrics.fold()
    assert await metrics.rows(CUSTOMER, p=profile("anon")) == []


async def test_erasing_a_survivor_erases_what_was_merged_into_it(metrics: Metrics) -> None:
    await metrics.produce(KNOWN + ANON)
    await metrics.produce([
        fact("m1", K.MERGED, "known", "2024-02-10", merged_profile_id=profile("anon")),
        fact("e1", K.ERASED, "known", "2024-02-11"),
        fact("n7", K.PURCHASE, "anon", "2024-03-05", "9"),
    ])
    await metrics.fold()
    assert await metrics.rows("SELECT count(*) AS n FROM metrics.customers") == [{"n": 0}]
    assert await metrics.rows("SELECT count(*) AS n FROM metrics.merged_profiles") == [{"n": 0}]
    erased = await metrics.rows("SELECT profile_id FROM metrics.erased_profiles")
    assert {r["profile_id"] for r in erased} == {profile("known"), profile("anon")}
    assert await metrics.rows(POPULATION) == []
