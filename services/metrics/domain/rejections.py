"""Why a customer fact cannot be folded: a machine-readable code and a sentence.

Amounts may be negative: the profile service corrects revenue counted twice (or not at all)
with a REFUND of negative amount, and money facts must add up to the profile's net revenue."""

from dataclasses import dataclass

from shared.facts import CustomerFact, FactKind

MONEY_KINDS = frozenset({FactKind.PURCHASE, FactKind.REFUND, FactKind.ORDER_CANCELLED, FactKind.COST})


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str


def rejection_of(fact: CustomerFact) -> Rejection | None:
    if fact.kind in MONEY_KINDS:
        if fact.amount is None:
            return Rejection("missing_amount", f"A {fact.kind.value} fact needs an amount.")
        if not fact.amount.is_finite():
            return Rejection("invalid_amount", f"The amount of a {fact.kind.value} fact must be a finite number.")
    if fact.kind is FactKind.MERGED:
        if fact.merged_profile_id is None:
            return Rejection("missing_merged_profile", "A merged fact needs merged_profile_id.")
        if fact.merged_profile_id == fact.profile_id:
            return Rejection("self_merge", "A profile cannot be merged into itself.")
    return None
