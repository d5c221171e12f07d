"""How a profile looks in the API (JSON; money as decimal strings, times ISO 8601 UTC)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from services.profile.adapters.profile_queries import StoredProfile, TimelineEntry
from services.profile.domain.lifecycle import LifecycleRules, standing
from services.profile.domain.model import Profile
from services.profile.domain.orders import summarize_orders


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def summary_view(profile_id: UUID, profile: Profile, rules: LifecycleRules, *, as_of: datetime) -> dict[str, Any]:
    orders = summarize_orders(profile.orders)
    state = standing(profile, orders, rules, as_of=as_of)
    nps_count = profile.nps_count
    nps_sum = sum(int(score) * n for score, n in profile.nps_scores.items())
    ratings = sum(profile.ratings.values())
    rating_sum = sum(int(r) * n for r, n in profile.ratings.items())
    return {
        "id": str(profile_id),
        "customer_id": profile.customer_id,
        "stage": state.stage.value,
        "at_risk": state.at_risk,
        "churned": state.churned,
        "segment": profile.segment,
        "acquisition_channel": orders.acquisition_channel,
        "first_seen": _time(profile.first_seen),
        "last_seen": _time(profile.last_seen),
        "traits": profile.trait_values(),
        "consent": {key: stamped.value for key, stamped in profile.consent.items()},
        "touchpoints": {
            "total": profile.events,
            "by_phase": dict(profile.by_phase),
            "by_channel": dict(profile.by_channel),
            "by_initiator": dict(profile.by_initiator),
            "by_type": dict(profile.by_type),
        },
        "orders": {
            "count": orders.count,
            "gross_revenue": str(orders.gross_revenue),
            "refunded": str(orders.refunded),
            "cancelled": str(orders.cancelled_revenue),
            "net_revenue": str(orders.net_revenue),
            "average_order_value": str(orders.average_order_value),
            "categories": list(orders.categories),
            "products": list(orders.products),
            "first_purchase_at": _time(orders.first_purchase_at),
            "last_purchase_at": _time(orders.last_purchase_at),
            "purchase_months": orders.purchase_months,
        },
        "cost_to_serve": {
            "amount": str(profile.cost),
            "agent_minutes": str(profile.agent_minutes),
            "touchpoints": profile.cost_events,
        },
        "nps": {
            "count": nps_count,
            "sum": nps_sum,
            "average": round(nps_sum / nps_count, 2) if nps_count else None,
            "last": profile.nps_last.value if profile.nps_last else None,
            "last_at": _time(profile.nps_last.stamp.at) if profile.nps_last else None,
            "promoters": profile.promoters,
            "detractors": profile.detractors,
        },
        "reviews": {
            "count": profile.reviews,
            "ratings": ratings,
            "average_rating": round(rating_sum / ratings, 2) if ratings else None,
        },
        "referrals": profile.referrals,
    }


def profile_view(
    stored: StoredProfile, rules: LifecycleRules, *, as_of: datetime, requested: UUID | None = None
) -> dict[str, Any]:
    view = summary_view(stored.id, stored.profile, rules, as_of=as_of)
    view["identities"] = [{"kind": kind, "value": value} for kind, value in stored.identities]
    view["merges"] = stored.merges
    view["identity_conflicts"] = stored.conflicts
    if requested is not None and requested != stored.id:
        view["merged_from"] = str(requested)
    return view


def timeline_view(entry: TimelineEntry) -> dict[str, Any]:
    return {"occurred_at": _time(entry.occurred_at), "event_key": entry.event_key, "touchpoint": entry.touchpoint}
