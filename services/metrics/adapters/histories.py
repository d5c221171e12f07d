"""Per-customer state in Postgres: metrics.customers (figures and resolved traits),
metrics.purchase_days and metrics.deduction_days (the dated money)."""

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.domain.figures import CustomerFigures
from services.metrics.domain.history import CustomerHistory, Deductions, PurchaseDay, Stamped


@dataclass(frozen=True)
class StoredCustomer:
    history: CustomerHistory
    figures: CustomerFigures  # as stored: what the aggregates currently hold for this customer


CUSTOMER_COLUMNS = (
    "acquired_on", "last_purchase_on", "frequency", "recency_days", "repeat_spend", "orders", "gross_revenue",
    "refunded", "cancelled_amount", "cost", "historical_clv", "cancelled_on", "lost_on", "segment", "channel",
)
_TYPES = {
    "profile_id": "uuid", "acquired_on": "date", "last_purchase_on": "date", "frequency": "int",
    "recency_days": "int", "repeat_spend": "float8", "orders": "int", "gross_revenue": "numeric",
    "refunded": "numeric", "cancelled_amount": "numeric", "cost": "numeric", "historical_clv": "float8",
    "cancelled_on": "date", "lost_on": "date", "segment": "text", "channel": "text", "segment_value": "text",
    "segment_at": "timestamptz", "attributed_channel": "text", "attributed_channel_at": "timestamptz",
    "first_purchase_channel": "text", "first_purchase_channel_at": "timestamptz",
}
_STAMPS = ("segment", "attributed_channel", "first_purchase_channel")


def _stamp(value: str | None, at: object) -> Stamped | None:
    return Stamped(at, value) if value is not None and at is not None else None  # type: ignore[arg-type]


async def load_customers(conn: AsyncConnection, ids: Collection[UUID]) -> dict[UUID, StoredCustomer]:
    if not ids:
        return {}
    params = {"ids": list(ids)}
    purchases: defaultdict[UUID, dict[date, PurchaseDay]] = defaultdict(dict)
    for row in await conn.execute(
        text("SELECT profile_id, day, amount, orders FROM metrics.purchase_days WHERE profile_id = ANY(:ids)"), params
    ):
        purchases[row.profile_id][row.day] = PurchaseDay(row.amount, row.orders)
    deductions: defaultdict[UUID, dict[date, Deductions]] = defaultdict(dict)
    for row in await conn.execute(
        text(
            "SELECT profile_id, day, refunded, cancelled, cost FROM metrics.deduction_days WHERE profile_id = ANY(:ids)"
        ),
        params,
    ):
        deductions[row.profile_id][row.day] = Deductions(row.refunded, row.cancelled, row.cost)
    stored: dict[UUID, StoredCustomer] = {}
    for customer in (
        await conn.execute(text("SELECT * FROM metrics.customers WHERE profile_id = ANY(:ids)"), params)
    ).mappings():
        history = CustomerHistory(
            purchases=purchases.get(customer["profile_id"], {}),
            deductions=deductions.get(customer["profile_id"], {}),
            cancelled_on=customer["cancelled_on"],
            segment=_stamp(customer["segment_value"], customer["segment_at"]),
            attributed_channel=_stamp(customer["attributed_channel"], customer["attributed_channel_at"]),
            first_purchase_channel=_stamp(customer["first_purchase_channel"], customer["first_purchase_channel_at"]),
        )
        figures = CustomerFigures(**{c: customer[c] for c in CUSTOMER_COLUMNS})
        stored[customer["profile_id"]] = StoredCustomer(history, figures)
    return stored


def _customer_row(profile_id: UUID, history: CustomerHistory, figures: CustomerFigures) -> dict[str, object]:
    row: dict[str, object] = {"profile_id": profile_id}
    row.update({c: getattr(figures, c) for c in CUSTOMER_COLUMNS})
    for name in _STAMPS:
        stamp: Stamped | None = getattr(history, name)
        row["segment_value" if name == "segment" else name] = stamp.value if stamp else None
        row[f"{name}_at"] = stamp.at if stamp else None
    return row


async def _upsert_customers(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
    columns = list(_TYPES)
    unnest = ", ".join(f"CAST(:{c} AS {_TYPES[c]}[])" for c in columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "profile_id")
    await conn.execute(
        text(
            f"INSERT INTO metrics.customers ({', '.join(columns)}) SELECT * FROM unnest({unnest}) "
            f"ON CONFLICT (profile_id) DO UPDATE SET {updates}, updated_at = now()"
        ),
        {c: [r[c] for r in rows] for c in columns},
    )


async def save_customers(
    conn: AsyncConnection,
    before: Mapping[UUID, StoredCustomer],
    after: Mapping[UUID, tuple[CustomerHistory, CustomerFigures] | None],
) -> None:
    """Write the new state of every changed customer (None: delete everything about them)."""
    gone = [pid for pid, state in after.items() if state is None and pid in before]
    if gone:
        for table in ("customers", "purchase_days", "deduction_days"):
            await conn.execute(text(f"DELETE FROM metrics.{table} WHERE profile_id = ANY(:ids)"), {"ids": gone})
    present = {pid: state for pid, state in after.items() if state is not None}
    if not present:
        return
    await _upsert_customers(conn, [_customer_row(pid, h, f) for pid, (h, f) in sorted(present.items())])
    purchase_rows: list[tuple[UUID, date, PurchaseDay]] = []
    deduction_rows: list[tuple[UUID, date, Deductions]] = []
    purchases_gone: list[tuple[UUID, date]] = []
    deductions_gone: list[tuple[UUID, date]] = []
    for pid, (history, _) in sorted(present.items()):
        old = before[pid].history if pid in before else CustomerHistory()
        purchase_rows += [(pid, d, v) for d, v in sorted(history.purchases.items()) if old.purchases.get(d) != v]
        purchases_gone += [(pid, d) for d in old.purchases if d not in history.purchases]
        deduction_rows += [(pid, d, v) for d, v in sorted(history.deductions.items()) if old.deductions.get(d) != v]
        deductions_gone += [(pid, d) for d in old.deductions if d not in history.deductions]
    if purchase_rows:
        await conn.execute(
            text(
                "INSERT INTO metrics.purchase_days (profile_id, day, amount, orders) "
                "SELECT * FROM unnest(CAST(:p AS uuid[]), CAST(:d AS date[]), CAST(:a AS numeric[]), "
                "CAST(:o AS int[])) "
                "ON CONFLICT (profile_id, day) DO UPDATE SET amount = EXCLUDED.amount, orders = EXCLUDED.orders"
            ),
            {
                "p": [r[0] for r in purchase_rows], "d": [r[1] for r in purchase_rows],
                "a": [r[2].amount for r in purchase_rows], "o": [r[2].orders for r in purchase_rows],
            },
        )
    if deduction_rows:
        await conn.execute(
            text(
                "INSERT INTO metrics.deduction_days (profile_id, day, refunded, cancelled, cost) "
                "SELECT * FROM unnest(CAST(:p AS uuid[]), CAST(:d AS date[]), CAST(:r AS numeric[]), "
                "CAST(:c AS numeric[]), CAST(:k AS numeric[])) ON CONFLICT (profile_id, day) DO UPDATE SET "
                "refunded = EXCLUDED.refunded, cancelled = EXCLUDED.cancelled, cost = EXCLUDED.cost"
            ),
            {
                "p": [r[0] for r in deduction_rows], "d": [r[1] for r in deduction_rows],
                "r": [r[2].refunded for r in deduction_rows], "c": [r[2].cancelled for r in deduction_rows],
                "k": [r[2].cost for r in deduction_rows],
            },
        )
    for table, pairs in (("purchase_days", purchases_gone), ("deduction_days", deductions_gone)):
        if pairs:
            await conn.execute(
                text(
                    f"DELETE FROM metrics.{table} t USING unnest(CAST(:p AS uuid[]), CAST(:d AS date[])) AS g(p, d) "
                    "WHERE t.profile_id = g.p AND t.day = g.d"
                ),
                {"p": [p for p, _ in pairs], "d": [d for _, d in pairs]},
            )
