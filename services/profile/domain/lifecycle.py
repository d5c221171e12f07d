"""Lifecycle stage, derived from a profile's aggregates and never stored on its own.

The CRM model Market -> Convert -> Communicate -> Advocate, as five stages and two flags:

| stage     | rule (defaults in brackets, every threshold configurable)                        |
| --------- | -------------------------------------------------------------------------------- |
| prospect  | no counted order (completed and not cancelled)                                    |
| customer  | 1 counted order                                                                   |
| repeat    | 2 or more counted orders                                                          |
| loyal     | >= `loyal_min_orders` orders [3] in >= `loyal_min_months` distinct calendar       |
|           | months [2] and >= `loyal_min_variety` [2] distinct categories or products bought   |
| advocate  | loyal and shares positive experiences: a referral made, a review rated             |
|           | >= `advocate_min_rating` [4], or a latest NPS answer >= `advocate_min_nps` [9]     |

Flags, relative to an as-of time (the request time in the API):

- `churned`: an explicit `subscription_cancelled` later than the latest purchase and the
  latest `subscription_started`; or a customer with no purchase for `churn_days` [180].
- `at_risk`: a customer, not churned, with no purchase for `at_risk_days` [90].

Prospects are never at risk or churned by inactivity (they never bought). After changing a
threshold, `touchpoint profile rebuild` recomputes the stored stage of every profile.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.profile.domain.model import Profile
from services.profile.domain.orders import OrdersSummary, summarize_orders


class Stage(StrEnum):
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    REPEAT = "repeat"
    LOYAL = "loyal"
    ADVOCATE = "advocate"


@dataclass(frozen=True, slots=True)
class LifecycleRules:
    loyal_min_orders: int = 3
    loyal_min_months: int = 2
    loyal_min_variety: int = 2
    advocate_min_rating: int = 4
    advocate_min_nps: int = 9
    at_risk_days: int = 90
    churn_days: int = 180


@dataclass(frozen=True, slots=True)
class Standing:
    stage: Stage
    at_risk: bool
    churned: bool


def stage_of(profile: Profile, orders: OrdersSummary, rules: LifecycleRules) -> Stage:
    if orders.count == 0:
        return Stage.PROSPECT
    if orders.count == 1:
        return Stage.CUSTOMER
    variety = max(len(orders.categories), len(orders.products))
    loyal = (
        orders.count >= rules.loyal_min_orders
        and orders.purchase_months >= rules.loyal_min_months
        and variety >= rules.loyal_min_variety
    )
    if not loyal:
        return Stage.REPEAT
    return Stage.ADVOCATE if shares_positive_experience(profile, rules) else Stage.LOYAL


def shares_positive_experience(profile: Profile, rules: LifecycleRules) -> bool:
    positive_reviews = sum(n for rating, n in profile.ratings.items() if int(rating) >= rules.advocate_min_rating)
    last_nps = profile.nps_last.value if profile.nps_last is not None else None
    promoter = last_nps is not None and last_nps >= rules.advocate_min_nps
    return profile.referrals > 0 or positive_reviews > 0 or promoter


def explicitly_churned(profile: Profile, orders: OrdersSummary) -> bool:
    cancelled = profile.subscription_cancelled
    if cancelled is None:
        return False
    started = profile.subscription_started
    if started is not None and started.at > cancelled.at:
        return False
    return orders.last_purchase_at is None or orders.last_purchase_at <= cancelled.at


def standing(profile: Profile, orders: OrdersSummary, rules: LifecycleRules, *, as_of: datetime) -> Standing:
    stage = stage_of(profile, orders, rules)
    last = orders.last_purchase_at
    idle = as_of - last if last is not None else None
    churned = explicitly_churned(profile, orders) or (idle is not None and idle > timedelta(days=rules.churn_days))
    at_risk = not churned and idle is not None and idle > timedelta(days=rules.at_risk_days)
    return Standing(stage, at_risk, churned)


@dataclass(frozen=True, slots=True)
class Headline:
    """The indexed columns of a stored profile, all derived from its aggregates."""

    stage: Stage
    segment: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    last_purchase_at: datetime | None
    explicitly_churned: bool


def headline_of(profile: Profile, rules: LifecycleRules) -> Headline:
    orders = summarize_orders(profile.orders)
    return Headline(
        stage=stage_of(profile, orders, rules),
        segment=profile.segment,
        first_seen=profile.first_seen,
        last_seen=profile.last_seen,
        last_purchase_at=orders.last_purchase_at,
        explicitly_churned=explicitly_churned(profile, orders),
    )
