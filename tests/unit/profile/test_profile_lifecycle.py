from datetime import datetime, timedelta

from profile_world import T0, order, touchpoint

from services.profile.domain.fold import fold
from services.profile.domain.lifecycle import LifecycleRules, Stage, Standing, standing
from services.profile.domain.orders import summarize_orders
from shared.events import Feedback, Touchpoint

RULES = LifecycleRules()


def purchase(n: int, *, month: int, product: str, category: str) -> Touchpoint:
    return touchpoint(
        f"buy{n}", "order_completed", at=T0.replace(month=month), customer_id="c",
        order=order(f"o{n}", "40", (product, category)),
    )


def state_of(events: list[Touchpoint], as_of: datetime, rules: LifecycleRules = RULES) -> Standing:
    profile = fold(events)
    return standing(profile, summarize_orders(profile.orders), rules, as_of=as_of)


SOON = T0.replace(month=4)
LOYAL = [
    purchase(1, month=1, product="p1", category="shoes"),
    purchase(2, month=2, product="p2", category="bags"),
    purchase(3, month=3, product="p2", category="bags"),
]


def test_stages_climb_with_orders_months_and_variety() -> None:
    assert state_of([touchpoint("v", customer_id="c")], SOON).stage is Stage.PROSPECT
    assert state_of(LOYAL[:1], SOON).stage is Stage.CUSTOMER
    assert state_of(LOYAL[:2], SOON).stage is Stage.REPEAT
    assert state_of(LOYAL, SOON).stage is Stage.LOYAL


def test_three_orders_in_one_month_of_one_product_stay_repeat() -> None:
    same = [purchase(n, month=1, product="p1", category="shoes") for n in range(3)]
    assert state_of(same, SOON).stage is Stage.REPEAT


def test_loyal_customers_who_share_a_positive_experience_are_advocates() -> None:
    review = touchpoint("r", "review_submitted", at=SOON, customer_id="c", feedback=Feedback(rating=5))
    poor = touchpoint("r2", "review_submitted", at=SOON, customer_id="c", feedback=Feedback(rating=2))
    referral = touchpoint("ref", "referral_made", at=SOON, customer_id="c")
    promoter = touchpoint("n", "survey_answered", at=SOON, customer_id="c", feedback=Feedback(nps=9))
    assert state_of([*LOYAL, review], SOON).stage is Stage.ADVOCATE
    assert state_of([*LOYAL, referral], SOON).stage is Stage.ADVOCATE
    assert state_of([*LOYAL, promoter], SOON).stage is Stage.ADVOCATE
    assert state_of([*LOYAL, poor], SOON).stage is Stage.LOYAL
    assert state_of([*LOYAL[:2], referral], SOON).stage is Stage.REPEAT


def test_inactivity_makes_a_customer_at_risk_then_churned() -> None:
    last = LOYAL[-1].occurred_at
    assert state_of(LOYAL, last + timedelta(days=89)) == Standing(Stage.LOYAL, at_risk=False, churned=False)
    assert state_of(LOYAL, last + timedelta(days=91)) == Standing(Stage.LOYAL, at_risk=True, churned=False)
    assert state_of(LOYAL, last + timedelta(days=181)) == Standing(Stage.LOYAL, at_risk=False, churned=True)


def test_prospects_are_never_at_risk_by_inactivity() -> None:
    visit = touchpoint("v", customer_id="c")
    assert state_of([visit], T0 + timedelta(days=1000)) == Standing(Stage.PROSPECT, at_risk=False, churned=False)


def test_explicit_cancellation_churns_until_a_later_purchase_or_subscription() -> None:
    cancel = touchpoint("x", "subscription_cancelled", at=SOON, customer_id="c")
    back = touchpoint("y", "subscription_started", at=SOON + timedelta(days=1), customer_id="c")
    assert state_of([*LOYAL, cancel], SOON + timedelta(days=2)).churned
    assert not state_of([*LOYAL, cancel, back], SOON + timedelta(days=2)).churned


def test_thresholds_are_configurable() -> None:
    strict = LifecycleRules(loyal_min_orders=4, at_risk_days=10, churn_days=20)
    last = LOYAL[-1].occurred_at
    assert state_of(LOYAL, last + timedelta(days=11), strict) == Standing(Stage.REPEAT, at_risk=True, churned=False)
