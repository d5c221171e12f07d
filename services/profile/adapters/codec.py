"""The stored form of a profile (profiles.state, json): plain JSON, money as decimal strings.

Times are ISO 8601 strings; orjson writes the datetimes itself (the same text as
`datetime.isoformat`), which is much cheaper than formatting them one by one in Python."""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from services.profile.domain.model import Completion, OrderEntry, Profile, Stamp, Stamped

FORMAT = 1


def _stamp(stamp: Stamp | None) -> list[Any] | None:
    return None if stamp is None else [stamp.at, stamp.by]


def _unstamp(raw: list[str] | None) -> Stamp | None:
    return None if raw is None else Stamp(datetime.fromisoformat(raw[0]), raw[1])


def _registers(registers: Mapping[str, Stamped]) -> dict[str, list[Any]]:
    return {key: [s.value, s.stamp.at, s.stamp.by] for key, s in registers.items()}


def _unregisters(raw: Mapping[str, list[Any]]) -> dict[str, Stamped]:
    return {key: Stamped(v[0], Stamp(datetime.fromisoformat(v[1]), v[2])) for key, v in raw.items()}


def _untime(raw: str | None) -> datetime | None:
    return None if raw is None else datetime.fromisoformat(raw)


def _entry(entry: OrderEntry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c = entry.completion
    if c is not None:
        out["completion"] = [
            c.stamp.at, c.stamp.by, str(c.revenue), c.currency, c.channel, list(c.categories),
            list(c.products),
        ]
    if entry.refunds:
        out["refunded"], out["refunds"] = str(entry.refunded), entry.refunds
    if entry.cancelled is not None:
        out["cancelled"] = _stamp(entry.cancelled)
    return out


def _unentry(raw: Mapping[str, Any]) -> OrderEntry:
    c = raw.get("completion")
    completion = None
    if c is not None:
        completion = Completion(
            Stamp(datetime.fromisoformat(c[0]), c[1]), Decimal(c[2]), c[3], c[4], tuple(c[5]), tuple(c[6])
        )
    return OrderEntry(
        completion=completion,
        refunded=Decimal(raw.get("refunded", "0")),
        refunds=raw.get("refunds", 0),
        cancelled=_unstamp(raw.get("cancelled")),
    )


def profile_to_dict(p: Profile) -> dict[str, Any]:
    nps_last = None if p.nps_last is None else [p.nps_last.value, p.nps_last.stamp.at, p.nps_last.stamp.by]
    return {
        "format": FORMAT,
        "customer_id": p.customer_id,
        "first_seen": p.first_seen,
        "last_seen": p.last_seen,
        "traits": _registers(p.traits),
        "traits_once": _registers(p.traits_once),
        "consent": _registers(p.consent),
        "events": p.events,
        "by_phase": p.by_phase,
        "by_channel": p.by_channel,
        "by_initiator": p.by_initiator,
        "by_type": p.by_type,
        "orders": {order_id: _entry(entry) for order_id, entry in p.orders.items()},
        "cost": str(p.cost),
        "agent_minutes": str(p.agent_minutes),
        "cost_events": p.cost_events,
        "nps_scores": p.nps_scores,
        "nps_last": nps_last,
        "ratings": p.ratings,
        "reviews": p.reviews,
        "referrals": p.referrals,
        "subscription_started": _stamp(p.subscription_started),
        "subscription_cancelled": _stamp(p.subscription_cancelled),
    }


def profile_from_dict(raw: Mapping[str, Any]) -> Profile:
    nps_raw = raw.get("nps_last")
    nps_last = None if nps_raw is None else Stamped(nps_raw[0], Stamp(datetime.fromisoformat(nps_raw[1]), nps_raw[2]))
    return Profile(
        customer_id=raw.get("customer_id"),
        first_seen=_untime(raw.get("first_seen")),
        last_seen=_untime(raw.get("last_seen")),
        traits=_unregisters(raw.get("traits", {})),
        traits_once=_unregisters(raw.get("traits_once", {})),
        consent=_unregisters(raw.get("consent", {})),
        events=raw.get("events", 0),
        by_phase=dict(raw.get("by_phase", {})),
        by_channel=dict(raw.get("by_channel", {})),
        by_initiator=dict(raw.get("by_initiator", {})),
        by_type=dict(raw.get("by_type", {})),
        orders={order_id: _unentry(entry) for order_id, entry in raw.get("orders", {}).items()},
        cost=Decimal(raw.get("cost", "0")),
        agent_minutes=Decimal(raw.get("agent_minutes", "0")),
        cost_events=raw.get("cost_events", 0),
        nps_scores=dict(raw.get("nps_scores", {})),
        nps_last=nps_last,
        ratings=dict(raw.get("ratings", {})),
        reviews=raw.get("reviews", 0),
        referrals=raw.get("referrals", 0),
        subscription_started=_unstamp(raw.get("subscription_started")),
        subscription_cancelled=_unstamp(raw.get("subscription_cancelled")),
    )


def encode_profile(profile: Profile) -> str:
    """The canonical text: keys sorted, so equal profiles are stored as equal text whatever order
    their events were folded in (the column is json, which keeps the text as written)."""
    return orjson.dumps(profile_to_dict(profile), option=orjson.OPT_SORT_KEYS).decode()


def decode_profile(raw: str | bytes) -> Profile:
    return profile_from_dict(orjson.loads(raw))
