"""Customer facts through customers.v1 and the metrics consumer, checked against worked examples."""

import math
from datetime import date
from decimal import Decimal

import pytest

from shared.facts import FactKind as K
from tests.integration.metrics.harness import Metrics, fact, profile

CUSTOMER = "SELECT * FROM metrics.customers WHERE profile_id = :p"
DAYS = "SELECT day, amount, orders FROM metrics.purchase_days WHERE profile_id = :p ORDER BY day"
POPULATION = "SELECT day, segment, channel, cohort_month, acquired, lost FROM metrics.daily_population " \
    "WHERE acquired <> 0 OR lost <> 0 ORDER BY day, segment"

ADA = [
    fact("a1", K.ATTRIBUTES, "ada", "2024-01-02", segment="gold", channel="email"),
    fact("a2", K.PURCHASE, "ada", "2024-01-10", "100.00", order_id="o1", channel="web"),
    fact("a3", K.PURCHASE, "ada", "2024-01-10", "50.00", order_id="o2", channel="web"),
    fact("a4", K.COST, "ada", "2024-01-15", "5.00"),
    fact("a5", K.PURCHASE, "ada", "2024-02-20", "80.00", order_id="o3"),
    fact("a6", K.PURCHASE, "ada", "2024-03-05", "40.00", order_id="o4"),
    fact("a7", K.ORDER_CANCELLED, "ada", "2024-03-06", "40.00", order_id="o4"),
    fact("a8", K.REFUND, "ada", "2024-03-07", "10.00", order_id="o1"),
]
BOB = [
    fact("b1", K.PURCHASE, "bob", "2024-02-01", "30.00", order_id="o5", channel="store", segment="silver"),
    fact("b2", K.CANCELLATION, "bob", "2024-03-01"),
]
CARL = [fact("c1", K.ATTRIBUTES, "carl", "2024-01-01", segment="gold", channel="ads")]


async def test_purchases_refunds_cancellations_and_costs_fold_into_the_customer(metrics: Metrics) -> None:
    await metrics.produce(ADA + BOB + CARL)
    await metrics.fold(join_group=True)

    ada = (await metrics.rows(CUSTOMER, p=profile("ada")))[0]
    # purchase days: 01-10 = 100 + 50 (same day, one period), 02-20 = 80, 03-05 = 40
    assert await metrics.rows(DAYS, p=profile("ada")) == [
        {"day": date(2024, 1, 10), "amount": Decimal("150.00"), "orders": 2},
        {"day": date(2024, 2, 20), "amount": Decimal("80.00"), "orders": 1},
        {"day": date(2024, 3, 5), "amount": Decimal("40.00"), "orders": 1},
    ]
    assert ada["acquired_on"] == date(2024, 1, 10)
    assert ada["frequency"] == 2  # two repeat purchase days
    assert ada["recency_days"] == 55  # 01-10 -> 03-05: 21 + 29 + 5
    assert ada["repeat_spend"] == pytest.approx(60.0)  # (80 + 40) / 2
    assert ada["orders"] == 4
    # net revenue = 270 purchases - 10 refunded - 40 cancelled
    assert (ada["gross_revenue"], ada["refunded"], ada["cancelled_amount"], ada["cost"]) == (
        Decimal("270.00"), Decimal("10.00"), Decimal("40.00"), Decimal("5.00")
    )
    assert ada["lost_on"] == date(2024, 6, 3)  # last purchase 03-05 + 90 days
    assert (ada["segment"], ada["channel"]) == ("gold", "email")  # the attributed channel beats the purchase's
    # historical CLV: each day's (revenue - cost) discounted at 10 %/year to the acquisition day
    flows = [(0, 150.0), (5, -5.0), (41, 80.0), (55, 40.0), (56, -40.0), (57, -10.0)]
    assert ada["historical_clv"] == pytest.approx(sum(v * math.exp(-0.1 * d / 365.25) for d, v in flows))

    bob = (await metrics.rows(CUSTOMER, p=profile("bob")))[0]
    assert (bob["frequency"], bob["cancelled_on"], bob["lost_on"]) == (0, date(2024, 3, 1), date(2024, 3, 1))
    assert (bob["segment"], bob["channel"]) == ("silver", "store")  # no attributes: the first purchase's channel

    carl = (await metrics.rows(CUSTOMER, p=profile("carl")))[0]
    assert carl["acquired_on"] is None  # a prospect: in no aggregate

    assert await metrics.rows(POPULATION) == [
        {"day": date(2024, 1, 10), "segment": "gold", "channel": "email", "cohort_month": date(2024, 1, 1),
         "acquired": 1, "lost": 0},
        {"day": date(2024, 2, 1), "segment": "silver", "channel": "store", "cohort_month": date(2024, 2, 1),
         "acquired": 1, "lost": 0},
        {"day": date(2024, 3, 1), "segment": "silver", "channel": "store", "cohort_month": date(2024, 2, 1),
         "acquired": 0, "lost": 1},
        {"day": date(2024, 6, 3), "segment": "gold", "channel": "email", "cohort_month": date(2024, 1, 1),
         "acquired": 0, "lost": 1},
    ]


async def test_replayed_facts_do_not_count_twice(metrics: Metrics) -> None:
    await metrics.produce(ADA + BOB)
    await metrics.fold()
    before = (
        await metrics.rows(CUSTOMER, p=profile("ada")), await metrics.rows(POPULATION),
        await metrics.rows("SELECT * FROM metrics.clv_rollup ORDER BY segment"),
    )
    await metrics.produce(ADA + BOB + ADA)  # the same fact ids, late and twice
    await metrics.fold()
    after = (
        await metrics.rows(CUSTOMER, p=profile("ada")), await metrics.rows(POPULATION),
        await metrics.rows("SELECT * FROM metrics.clv_rollup ORDER BY segment"),
    )
    for old, new in zip(before, after, strict=True):
        assert [{k: v for k, v in row.items() if k != "updated_at"} for row in old] == [
            {k: v for k, v in row.items() if k != "updated_at"} for row in new
        ]
    assert len(after[1]) == 4


async def test_a_later_purchase_moves_the_loss_day(metrics: Metrics) -> None:
    await metrics.produce([fact("p1", K.PURCHASE, "eve", "2024-01-01", "10", segment="gold", channel="web")])
    await metrics.fold()
    assert (await metrics.rows("SELECT day, lost FROM metrics.daily_population WHERE lost <> 0")) == [
        {"day": date(2024, 3, 31), "lost": 1}  # 2024-01-01 + 90 days (leap year)
    ]
    await metrics.produce([fact("p2", K.PURCHASE, "eve", "2024-02-15", "10")])
    await metrics.fold()
    # the old loss day is decremented and the new one (02-15 + 90 = 05-15) incremented
    assert await metrics.rows("SELECT day, lost FROM metrics.daily_population WHERE lost <> 0") == [
        {"day": date(2024, 5, 15), "lost": 1}
    ]
    # an earlier purchase arriving late moves the acquisition day, not the loss day
    await metrics.produce([fact("p0", K.PURCHASE, "eve", "2023-12-20", "10")])
    await metrics.fold()
    population = await metrics.rows(
        "SELECT day, acquired, lost, cohort_month FROM metrics.daily_population WHERE acquired <> 0 OR lost <> 0 "
        "ORDER BY day"
    )
    assert population == [
        {"day": date(2023, 12, 20), "acquired": 1, "lost": 0, "cohort_month": date(2023, 12, 1)},
        {"day": date(2024, 5, 15), "acquired": 0, "lost": 1, "cohort_month": date(2023, 12, 1)},
    ]


async def test_churn_worked_example_over_http(metrics: Metrics) -> None:
    await metrics.produce(ADA + BOB + CARL)
    await metrics.fold()
    async with metrics.client() as client:
        response = await client.get(
            "/v1/churn", params={"as_of": "2024-03-31", "window_days": 31, "by": "segment"}, headers=metrics.headers()
        )
    assert response.status_code == 200, response.text
    body = response.json()
    # window (02-29, 03-31]: Ada (01-10 .. 06-03) and Bob (02-01 .. lost 03-01) are customers on 02-29;
    # Bob is lost on 03-01, inside the window; Carl never bought.
    assert body["window_start"] == "2024-02-29"
    total = body["total"]
    assert (total["start"], total["end"], total["lost"], total["acquired"]) == (2, 1, 1, 0)
    assert total["average"] == 1.5  # (2 + 1) / 2
    assert total["rate"] == pytest.approx(1 / 1.5)
    assert total["rate_vs_start"] == pytest.approx(1 / 2)
    groups = {g["group"]: g for g in body["groups"]}
    assert (groups["gold"]["start"], groups["gold"]["end"], groups["gold"]["lost"]) == (1, 1, 0)
    assert (groups["silver"]["start"], groups["silver"]["end"], groups["silver"]["lost"]) == (1, 0, 1)
    assert groups["silver"]["rate"] == pytest.approx(1 / 0.5) and groups["gold"]["rate"] == 0


async def test_invalid_facts_go_to_the_dead_letter_topic_with_a_reason(metrics: Metrics) -> None:
    from aiokafka import AIOKafkaConsumer

    from shared.envelope import header

    await metrics.produce([
        (b"k", b"{not json"),
        fact("x1", K.PURCHASE, "zed", "2024-01-01", None),
        fact("x2", K.PURCHASE, "zed", "2024-01-02", "12"),
    ])
    await metrics.fold()
    assert len(await metrics.rows(DAYS, p=profile("zed"))) == 1
    dlq = AIOKafkaConsumer(
        metrics.settings.topics.customers_dlq, bootstrap_servers=metrics.settings.kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await dlq.start()
    try:
        batch = await dlq.getmany(timeout_ms=5000, max_records=10)
        records = [r for rs in batch.values() for r in rs]
        while len(records) < 2:
            more = await dlq.getmany(timeout_ms=5000, max_records=10)
            assert more, "dead letters missing"
            records += [r for rs in more.values() for r in rs]
    finally:
        await dlq.stop()
    assert sorted(header(r.headers, "dlq_reason") or "" for r in records) == ["invalid_fact", "missing_amount"]
