"""What the order ledger adds up to.

- gross revenue: revenue of every completed order, cancelled or not;
- cancelled: revenue of completed orders that were cancelled;
- refunded: refunds of orders that are not cancelled (a cancelled order is void as a
  whole, so its refunds are not subtracted twice);
- net revenue = gross - cancelled - refunded;
- order count: completed orders that were not cancelled; AOV = net revenue / order count;
- categories and products bought, first and last purchase, and the months with a purchase,
  over those same counted orders;
- acquisition channel: the channel of the earliest counted order.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.profile.domain.model import ZERO, OrderEntry, Stamp

CENT = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class OrdersSummary:
    count: int = 0
    gross_revenue: Decimal = ZERO
    cancelled_revenue: Decimal = ZERO
    refunded: Decimal = ZERO
    net_revenue: Decimal = ZERO
    average_order_value: Decimal = ZERO
    categories: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    purchase_months: int = 0
    acquisition_channel: str | None = None


_NO_ORDERS = OrdersSummary()


def summarize_orders(orders: Mapping[str, OrderEntry]) -> OrdersSummary:
    if not orders:
        return _NO_ORDERS  # most profiles are prospects
    gross = cancelled = refunded = ZERO
    count = 0
    categories: set[str] = set()
    products: set[str] = set()
    months: set[tuple[int, int]] = set()
    first = last = None
    acquisition: tuple[Stamp, str] | None = None
    for entry in orders.values():
        completion = entry.completion
        if entry.cancelled is None:
            refunded += entry.refunded
        if completion is None:
            continue
        gross += completion.revenue
        if entry.cancelled is not None:
            cancelled += completion.revenue
            continue
        count += 1
        categories.update(completion.categories)
        products.update(completion.products)
        at = completion.stamp.at
        months.add((at.year, at.month))
        first = at if first is None or at < first else first
        last = at if last is None or at > last else last
        if acquisition is None or completion.stamp < acquisition[0]:
            acquisition = (completion.stamp, completion.channel)
    net = gross - cancelled - refunded
    return OrdersSummary(
        count=count,
        gross_revenue=gross,
        cancelled_revenue=cancelled,
        refunded=refunded,
        net_revenue=net,
        average_order_value=(net / count).quantize(CENT) if count else ZERO,
        categories=tuple(sorted(categories)),
        products=tuple(sorted(products)),
        first_purchase_at=first,
        last_purchase_at=last,
        purchase_months=len(months),
        acquisition_channel=acquisition[1] if acquisition else None,
    )


def acquisition_channel(orders: Mapping[str, OrderEntry]) -> str | None:
    best = None
    for entry in orders.values():
        if entry.counted and entry.completion is not None and (best is None or entry.completion.stamp < best.stamp):
            best = entry.completion
    return best.channel if best else None
