from types import SimpleNamespace
from uuid import UUID

from profile_fakes import FakeGraphStore, InMemoryGraph
from profile_world import order, touchpoint

from services.profile.domain.lifecycle import LifecycleRules, Stage
from services.profile.service_layer.folding import FoldHandler, decode_record, fold_records
from shared.envelope import header
from shared.facts import CustomerFact, FactKind


async def test_records_are_decoded_deduplicated_folded_and_their_facts_queued() -> None:
    graph = InMemoryGraph()
    buy = touchpoint("b1", "order_completed", customer_id="c1", order=order("o1", "12.50")).to_json()
    values = [buy, b"{broken", touchpoint("j", anonymous_id="null").to_json(), buy]
    report = await fold_records(FakeGraphStore(graph), values, rules=LifecycleRules(), facts_topic="t.customers")
    assert report.folded == 1 and report.duplicates == 1
    assert [(r.index, r.reason) for r in report.rejections] == [(1, "invalid_payload"), (2, "no_identity")]
    facts = {CustomerFact.from_json(m.value).kind: (m, CustomerFact.from_json(m.value)) for m in graph.outbox}
    assert set(facts) == {FactKind.PURCHASE, FactKind.ATTRIBUTES}  # the first order sets the acquisition channel
    message, fact = facts[FactKind.PURCHASE]
    assert (message.topic, fact.amount, fact.order_id) == ("t.customers", 12.5, "o1")
    assert facts[FactKind.ATTRIBUTES][1].channel == "web"
    assert message.key == str(fact.profile_id).encode()
    assert header(message.headers, "ce_id") == fact.fact_id
    assert graph.headlines[fact.profile_id].stage is Stage.CUSTOMER


async def test_an_event_folded_in_an_earlier_batch_is_not_folded_again() -> None:
    graph = InMemoryGraph()
    store = FakeGraphStore(graph)
    value = touchpoint("v", customer_id="c1").to_json()
    await fold_records(store, [value], rules=LifecycleRules(), facts_topic="f")
    again = await fold_records(store, [value], rules=LifecycleRules(), facts_topic="f")
    assert (again.folded, again.duplicates, again.outcome) == (0, 1, None)
    assert next(iter(graph.profiles.values())).events == 1


async def test_a_batch_decoded_ahead_folds_as_one_decoded_in_place() -> None:
    buy = touchpoint("b1", "order_completed", customer_id="c1", order=order("o1", "12.50")).to_json()
    junk, mail = touchpoint("j", anonymous_id="null").to_json(), touchpoint("v", email="a@b.io").to_json()
    values = [buy, b"{broken", junk, buy, mail]
    in_place, ahead = InMemoryGraph(), InMemoryGraph()
    ids = iter(range(10**6))
    report = await fold_records(
        FakeGraphStore(in_place), values, rules=LifecycleRules(), facts_topic="f", new_id=lambda: UUID(int=next(ids))
    )
    ids = iter(range(10**6))
    prepared = await fold_records(
        FakeGraphStore(ahead), [b"never decoded"] * len(values), rules=LifecycleRules(), facts_topic="f",
        new_id=lambda: UUID(int=next(ids)), decoded=[decode_record(v) for v in values],
    )
    assert (prepared.folded, prepared.duplicates, prepared.rejections) == (report.folded, report.duplicates,
                                                                          report.rejections)
    assert ahead.profiles == in_place.profiles and ahead.outbox == in_place.outbox


async def test_the_handler_folds_the_decoding_prepared_for_that_very_batch() -> None:
    handler = FoldHandler(rules=LifecycleRules(), facts_topic="f")
    record = SimpleNamespace(value=touchpoint("v", customer_id="c1").to_json(), topic="t", partition=0, offset=0)
    batch = [record]
    await handler.prepare(batch)  # type: ignore[arg-type]
    assert handler._prepared[id(batch)][0] is batch
    assert handler._prepared[id(batch)][1] == [decode_record(record.value)]
    for _ in range(3):  # only the batch in flight and the next one are kept
        await handler.prepare([record])  # type: ignore[list-item]
    assert len(handler._prepared) == 2
