from datetime import timedelta
from decimal import Decimal

from profile_world import T0, order, touchpoint

from services.profile.domain.fold import apply, fold
from services.profile.domain.model import Profile
from services.profile.domain.orders import summarize_orders
from shared.events import CostToServe, Feedback

LATER = T0 + timedelta(days=1)
CALL_COST = CostToServe(amount=Decimal(4), agent_minutes=2.5)


def test_traits_resolve_by_event_time_not_arrival() -> None:
    newer = touchpoint("b", at=LATER, anonymous_id="a", traits={"plan": "pro"})
    older = touchpoint("a", at=T0, anonymous_id="a", traits={"plan": "free", "name": "Ann"})
    profile = fold([newer, older])
    assert profile.trait_values() == {"plan": "pro", "name": "Ann"}


def test_a_tie_in_event_time_is_broken_by_the_event_key_either_way() -> None:
    one = touchpoint("x1", at=T0, anonymous_id="a", traits={"segment": "smb"})
    two = touchpoint("x2", at=T0, anonymous_id="a", traits={"segment": "vip"})
    assert fold([one, two]).segment == fold([two, one]).segment == "vip"


def test_set_once_traits_keep_the_earliest_and_consent_the_latest() -> None:
    profile = fold(
        [
            touchpoint("b", at=LATER, anonymous_id="a", traits_set_once={"source": "store"}, consent={"email": False}),
            touchpoint("a", at=T0, anonymous_id="a", traits_set_once={"source": "ads"}, consent={"email": True}),
        ]
    )
    assert profile.trait_values()["source"] == "ads"
    assert profile.consent["email"].value is False


def test_counts_and_first_and_last_seen() -> None:
    profile = fold(
        [
            touchpoint("a", "email_sent", at=LATER, anonymous_id="a"),
            touchpoint("b", "inbound_call", at=T0, anonymous_id="a", cost=CALL_COST),
        ]
    )
    assert (profile.first_seen, profile.last_seen, profile.events) == (T0, LATER, 2)
    assert profile.by_initiator == {"brand": 1, "customer": 1}
    assert profile.by_channel == {"email": 1, "phone": 1}
    assert (profile.cost, profile.agent_minutes, profile.cost_events) == (Decimal(4), Decimal("2.5"), 1)


def test_refund_and_cancellation_may_arrive_before_their_order() -> None:
    refund = touchpoint("r", "order_refunded", at=LATER, anonymous_id="a", order=order("o1", "20"))
    cancel = touchpoint("c", "order_cancelled", at=LATER, anonymous_id="a", order=order("o2"))
    first = touchpoint("p1", "order_completed", at=T0, anonymous_id="a", order=order("o1", "100", ("sku1", "shoes")))
    second = touchpoint("p2", "order_completed", at=T0, anonymous_id="a", order=order("o2", "50", ("sku2", "bags")))
    summary = summarize_orders(fold([refund, cancel, first, second]).orders)
    assert summary.count == 1
    assert (summary.gross_revenue, summary.cancelled_revenue, summary.refunded) == (150, 50, 20)
    assert summary.net_revenue == summary.average_order_value == Decimal(80)
    assert summary.categories == ("shoes",) and summary.products == ("sku1",)


def test_a_second_completion_of_one_order_counts_once() -> None:
    once = touchpoint("p1", "order_completed", at=T0, anonymous_id="a", order=order("o1", "100"))
    again = touchpoint("p1-retry", "order_completed", at=LATER, anonymous_id="a", order=order("o1", "100"))
    summary = summarize_orders(fold([once, again]).orders)
    assert (summary.count, summary.gross_revenue) == (1, Decimal(100))


def test_acquisition_channel_is_that_of_the_earliest_order() -> None:
    store = touchpoint("s", "order_completed", at=LATER, channel="store", anonymous_id="a", order=order("o1", "5"))
    web = touchpoint("w", "order_completed", at=T0, channel="web", anonymous_id="a", order=order("o2", "5"))
    assert summarize_orders(fold([store, web]).orders).acquisition_channel == "web"


def test_nps_keeps_every_answer_and_the_latest() -> None:
    profile = fold(
        [
            touchpoint("n2", "survey_answered", at=LATER, anonymous_id="a", feedback=Feedback(nps=3)),
            touchpoint("n1", "survey_answered", at=T0, anonymous_id="a", feedback=Feedback(nps=10)),
        ]
    )
    assert (profile.nps_count, profile.promoters, profile.detractors) == (2, 1, 1)
    assert profile.nps_last is not None and profile.nps_last.value == 3


def test_apply_does_not_touch_its_input() -> None:
    empty = Profile()
    after = apply(empty, touchpoint("a", anonymous_id="a", traits={"k": 1}))
    assert empty == Profile() and after.events == 1
