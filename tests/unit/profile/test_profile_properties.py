"""Order independence and idempotence of the whole fold, identity merges included."""

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from profile_fakes import InMemoryGraph
from profile_world import T0, order, touchpoint

from services.profile.adapters.codec import decode_profile, encode_profile
from services.profile.domain.fold import fold, merge
from services.profile.domain.orders import summarize_orders
from shared.events import CostToServe, Feedback, Touchpoint
from shared.facts import FactKind

# Four people; no identity is shared between two of them, so the final graph is the
# connected components of the identities their events carry, whatever the order.
PEOPLE: list[dict[str, Any]] = [
    {"customer_id": "c0", "email": "p0@example.com", "anonymous_id": ["a0", "a0b"]},
    {"customer_id": "c1", "email": None, "anonymous_id": ["a1"]},
    {"customer_id": None, "email": "p2@example.com", "anonymous_id": ["a2", "a2b"]},
    {"customer_id": None, "email": None, "anonymous_id": ["a3"]},
]
TYPES = [
    "page_view", "order_completed", "order_refunded", "order_cancelled", "survey_answered", "review_submitted",
    "inbound_call", "referral_made", "subscription_started", "subscription_cancelled", "signed_in",
]


@st.composite
def event_specs(draw: st.DrawFn, index: int) -> Touchpoint:
    person = PEOPLE[draw(st.integers(0, len(PEOPLE) - 1))]
    options: list[tuple[str, str]] = [("anonymous_id", a) for a in person["anonymous_id"]]
    if person["customer_id"]:
        options.append(("customer_id", person["customer_id"]))
    if person["email"]:
        options.append(("email", person["email"]))
    chosen = draw(st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True))
    ids: dict[str, object] = dict(chosen)
    if draw(st.booleans()) and "email" not in ids:
        ids["email"] = draw(st.sampled_from(["null", "undefined", " ", "0"]))  # junk never links
    event_type = draw(st.sampled_from(TYPES))
    extra: dict[str, object] = {}
    if event_type.startswith("order_"):
        extra["order"] = order(
            f"o{PEOPLE.index(person)}-{draw(st.integers(0, 2))}", str(draw(st.integers(1, 90))),
            (draw(st.sampled_from(["p1", "p2", "p3"])), draw(st.sampled_from(["shoes", "bags"]))),
        )
    if event_type == "survey_answered":
        extra["feedback"] = Feedback(nps=draw(st.integers(0, 10)))
    if event_type == "review_submitted":
        extra["feedback"] = Feedback(rating=draw(st.integers(1, 5)))
    if event_type == "inbound_call":
        minutes = draw(st.sampled_from([0.5, 1.25]))
        extra["cost"] = CostToServe(amount=Decimal(draw(st.integers(1, 9))), agent_minutes=minutes)
    if draw(st.booleans()):
        extra["traits"] = {"segment": draw(st.sampled_from(["smb", "vip", None])), "tier": draw(st.integers(0, 2))}
    if draw(st.booleans()):
        extra["traits_set_once"] = {"first_channel": draw(st.sampled_from(["ads", "store"]))}
    if draw(st.booleans()):
        extra["consent"] = {"email": draw(st.booleans())}
    at = T0 + timedelta(days=draw(st.integers(0, 3)) * 40, minutes=draw(st.integers(0, 3)))  # many ties
    return touchpoint(f"e{index}", event_type, at=at, **ids, **extra)  # type: ignore[arg-type]


@st.composite
def histories(draw: st.DrawFn) -> list[Touchpoint]:
    count = draw(st.integers(1, 30))
    return [draw(event_specs(i)) for i in range(count)]


Delivery = tuple[list[Touchpoint], list[list[Touchpoint]]]


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    """A history, and the same events delivered shuffled, partly twice, in arbitrary batches."""
    events = draw(histories())
    repeats = draw(st.lists(st.sampled_from(events), max_size=10))
    delivered = draw(st.permutations(events + repeats))
    cuts = sorted(draw(st.lists(st.integers(0, len(delivered)), max_size=6)))
    bounds = [0, *cuts, len(delivered)]
    return events, [delivered[a:b] for a, b in itertools.pairwise(bounds)]


def in_order(events: list[Touchpoint]) -> InMemoryGraph:
    graph = InMemoryGraph()
    graph.fold(sorted(events, key=lambda e: (e.occurred_at, e.id)))
    return graph


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_any_delivery_gives_the_profiles_of_one_in_order_fold(delivery: Delivery) -> None:
    events, batches = delivery
    graph = InMemoryGraph()
    for batch in batches:
        graph.fold(batch)
    assert graph.canonical() == in_order(events).canonical()


@settings(max_examples=200, deadline=None)
@given(deliveries())
def test_facts_add_up_to_net_revenue_and_have_unique_ids(delivery: Delivery) -> None:
    _, batches = delivery
    graph = InMemoryGraph()
    facts = [fact for batch in batches for fact in graph.fold(batch).facts]
    sign = {FactKind.PURCHASE: 1, FactKind.REFUND: -1, FactKind.ORDER_CANCELLED: -1}
    from_facts = sum((f.amount or 0) * sign.get(f.kind, 0) for f in facts)
    assert from_facts == sum(summarize_orders(p.orders).net_revenue for p in graph.profiles.values())
    assert len({f.fact_id for f in facts}) == len(facts)
    merged = {f.merged_profile_id for f in facts if f.kind is FactKind.MERGED}
    assert merged == set(graph.merged_into)


@settings(max_examples=200, deadline=None)
@given(histories(), st.data())
def test_merge_of_any_split_equals_the_fold_of_everything(events: list[Touchpoint], data: st.DataObject) -> None:
    single = [e for e in events if e.identities.customer_id in (None, "c0")]  # one customer id at most
    left = data.draw(st.lists(st.sampled_from(single), unique_by=lambda e: e.id)) if single else []
    right = [e for e in single if e not in left]
    assert merge(fold(left), fold(right)) == fold(single)
    assert merge(fold(right), fold(left)) == fold(single)


@settings(max_examples=100, deadline=None)
@given(histories())
def test_stored_form_round_trips(events: list[Touchpoint]) -> None:
    profile = fold([e for e in events if e.identities.customer_id in (None, "c1")])
    assert decode_profile(encode_profile(profile)) == profile
