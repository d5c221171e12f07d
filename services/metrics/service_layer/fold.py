"""Folding a batch of customer facts: the handler the exactly-once consumer calls inside its
transaction (it commits the state, the dedup rows and the offsets together; nothing here commits).

Per batch: parse and validate, claim the fact ids (permanent dedup), take the model lock shared
and lock every touched profile, load their stored state, plan the batch with the pure domain,
then write customers, days, tombstones, population deltas, rollup deltas and predictions as a
handful of set-based statements. Nothing about a customer outlives the batch in memory.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from uuid import UUID

from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.adapters.aggregates import apply_population_change, apply_rollup_change
from services.metrics.adapters.histories import load_customers, save_customers
from services.metrics.adapters.locks import lock_profiles, share_model
from services.metrics.adapters.predictions import load_predictions, save_predictions
from services.metrics.adapters.tombstones import load_tombstones, save_tombstones
from services.metrics.domain.aggregates import population_change, rollup_change
from services.metrics.domain.batch import named_profiles, plan_batch
from services.metrics.domain.figures import CustomerFigures, Policy, figures_of
from services.metrics.domain.history import CustomerHistory
from services.metrics.domain.predictions import CustomerInputs, Prediction, PredictionModel, predict_many
from services.metrics.domain.rejections import rejection_of
from services.metrics.service_layer.models import current_prediction_model
from shared.consumer import DeadLetter, Record
from shared.dedup import claim_new
from shared.facts import CustomerFact

log = logging.getLogger(__name__)

PROCESSED_FACTS = "metrics.processed_facts"
FACTS = Counter("touchpoint_metrics_facts_total", "Customer facts seen by the metrics fold.", ["kind", "outcome"])


def utc_today() -> date:
    return datetime.now(UTC).date()


def parse(records: Sequence[Record]) -> tuple[list[CustomerFact], list[DeadLetter]]:
    facts: list[CustomerFact] = []
    dead: list[DeadLetter] = []
    for record in records:
        try:
            fact = CustomerFact.from_json(record.value or b"")
        except ValidationError as exc:
            dead.append(DeadLetter(record, "invalid_fact", f"not a customer fact: {exc.errors()[0]['msg']}"[:500]))
            continue
        rejection = rejection_of(fact)
        if rejection is not None:
            dead.append(DeadLetter(record, rejection.code, rejection.message))
            continue
        facts.append(fact)
    return facts, dead


def predictions_for(
    model: PredictionModel | None, customers: dict[UUID, CustomerFigures], today: date
) -> dict[UUID, tuple[Prediction, date] | None]:
    """Fresh predictions of changed customers, at today (or their last purchase, if later)."""
    out: dict[UUID, tuple[Prediction, date] | None] = dict.fromkeys(customers)
    if model is None:
        return out
    as_of: dict[UUID, date] = {}
    inputs: list[CustomerInputs] = []
    for pid, f in customers.items():
        if f.acquired_on is None or f.last_purchase_on is None:
            continue
        day = as_of[pid] = max(today, f.last_purchase_on)
        cancelled = f.cancelled_on is not None and f.acquired_on <= f.cancelled_on <= day
        age = (day - f.acquired_on).days
        inputs.append(CustomerInputs(f.frequency, f.recency_days, age, f.repeat_spend, cancelled))
    if not inputs:
        return out
    try:
        predictions = predict_many(model, inputs)
    except (ValueError, FloatingPointError, ArithmeticError) as exc:
        log.warning("predictions failed; customers left without one until the next fit", extra={"error": str(exc)})
        return out
    for (pid, day), prediction in zip(as_of.items(), predictions, strict=True):
        out[pid] = (prediction, day)
    return out


class FactFolder:
    def __init__(
        self,
        *,
        policy: Policy,
        monthly_discount_rate: float,
        margin: float,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.policy, self.monthly_discount_rate, self.margin, self.today = policy, monthly_discount_rate, margin, today

    async def __call__(self, conn: AsyncConnection, records: Sequence[Record]) -> Sequence[DeadLetter]:
        facts, dead = parse(records)
        new = await claim_new(conn, PROCESSED_FACTS, [f.fact_id for f in facts])
        fresh: list[CustomerFact] = []
        for fact in facts:
            if fact.fact_id in new:
                new.discard(fact.fact_id)
                fresh.append(fact)
            else:
                FACTS.labels(fact.kind.value, "duplicate").inc()
        if fresh:
            await self.fold(conn, fresh)
        return dead

    async def fold(self, conn: AsyncConnection, facts: Sequence[CustomerFact]) -> None:
        await share_model(conn)
        named = named_profiles(facts)
        await lock_profiles(conn, named)
        tombstones = await load_tombstones(conn, named)
        survivors = set(tombstones.merged_into.values()) - named
        await lock_profiles(conn, survivors)
        stored = await load_customers(conn, named | survivors)
        plan = plan_batch(facts, {pid: s.history for pid, s in stored.items()}, tombstones)
        for fact in facts:
            FACTS.labels(fact.kind.value, "folded").inc()
        if plan.skipped:
            FACTS.labels("any", "skipped_erased").inc(plan.skipped)

        after: dict[UUID, tuple[CustomerHistory, CustomerFigures] | None] = {
            pid: (h, figures_of(h, self.policy)) if h is not None else None for pid, h in plan.histories.items()
        }
        model = await current_prediction_model(
            conn, monthly_discount_rate=self.monthly_discount_rate, margin=self.margin
        )
        old_predictions = await load_predictions(conn, [pid for pid in after if pid in stored])
        new_predictions: dict[UUID, tuple[Prediction, date] | None] = dict.fromkeys(after)
        new_predictions.update(
            predictions_for(model, {pid: s[1] for pid, s in after.items() if s is not None}, self.today())
        )
        before_pairs = [(stored[pid].figures, old_predictions.get(pid)) for pid in after if pid in stored]
        after_pairs = [
            (state[1], p[0] if (p := new_predictions[pid]) else None)
            for pid, state in after.items()
            if state is not None
        ]

        await save_customers(conn, stored, after)
        await save_tombstones(conn, plan.tombstones)
        population = population_change([f for f, _ in before_pairs], [f for f, _ in after_pairs])
        await apply_population_change(conn, population)
        await apply_rollup_change(conn, rollup_change(before_pairs, after_pairs))
        await save_predictions(conn, model, new_predictions)
