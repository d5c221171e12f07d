from datetime import timedelta

from profile_fakes import InMemoryGraph
from profile_world import T0, order, touchpoint

from shared.facts import FactKind


def test_anonymous_prospect_who_signs_in_is_merged_into_the_known_customer() -> None:
    graph = InMemoryGraph()
    graph.fold([touchpoint("e1", "page_view", anonymous_id="cookie-1")])
    graph.fold([touchpoint("e2", "signed_in", at=T0 + timedelta(hours=1), customer_id="c-9", email="x@y.io")])
    outcome = graph.fold(
        [touchpoint("e3", "order_completed", at=T0 + timedelta(hours=2), anonymous_id="cookie-1", customer_id="c-9",
                    order=order("o1", "30"))]
    )
    (survivor,) = graph.profiles
    assert graph.profiles[survivor].customer_id == "c-9"
    assert graph.identities_of(survivor) == {("anonymous_id", "cookie-1"), ("customer_id", "c-9"), ("email", "x@y.io")}
    assert graph.profiles[survivor].events == 3
    (merge,) = outcome.merges
    assert (merge.survivor, merge.reason, merge.event_key) == (survivor, "identity:anonymous_id", "test\x1fe3")
    merged_facts = [f for f in outcome.facts if f.kind is FactKind.MERGED]
    assert [(f.profile_id, f.merged_profile_id) for f in merged_facts] == [(survivor, merge.merged)]


def test_two_customer_ids_never_merge_and_the_conflict_is_recorded() -> None:
    graph = InMemoryGraph()
    graph.fold([touchpoint("e1", customer_id="alice", email="shared@family.io")])
    outcome = graph.fold([touchpoint("e2", "order_completed", customer_id="bob", email="shared@family.io",
                                     order=order("o1", "10"))])
    by_customer = {p.customer_id: pid for pid, p in graph.profiles.items()}
    assert set(by_customer) == {"alice", "bob"}
    assert graph.owners[("email", "shared@family.io")] == by_customer["alice"]
    assert graph.profiles[by_customer["bob"]].orders.keys() == {"o1"}
    assert not outcome.merges
    (conflict,) = outcome.conflicts
    assert (conflict.pair, conflict.held_by, conflict.event_profile) == (
        ("email", "shared@family.io"), by_customer["alice"], by_customer["bob"]
    )


def test_event_without_customer_id_spanning_two_customers_goes_to_the_strongest_identity() -> None:
    graph = InMemoryGraph()
    alice = touchpoint("e1", customer_id="alice", email="a@x.io")
    graph.fold([alice, touchpoint("e2", customer_id="bob", phone="+4915112345678")])
    outcome = graph.fold([touchpoint("e3", "email_opened", email="a@x.io", phone="+49 151 1234 5678")])
    by_customer = {p.customer_id: pid for pid, p in graph.profiles.items()}
    assert graph.profiles[by_customer["alice"]].events == 2
    assert graph.profiles[by_customer["bob"]].events == 1
    assert [c.pair for c in outcome.conflicts] == [("phone", "+4915112345678")]


def test_junk_values_never_link_anyone() -> None:
    graph = InMemoryGraph()
    graph.fold([touchpoint("e1", anonymous_id="a-1", email="null"), touchpoint("e2", anonymous_id="a-2", email="null")])
    graph.fold([touchpoint("e3", anonymous_id="a-3", customer_id="undefined", phone="0")])
    assert len(graph.profiles) == 3
    assert all(kind == "anonymous_id" for kind, _ in graph.owners)


def test_an_event_with_only_junk_identities_is_not_placed() -> None:
    outcome = InMemoryGraph().fold([touchpoint("e1", anonymous_id="undefined", email="N/A")])
    assert [e.id for e in outcome.unplaced] == ["e1"] and not outcome.profiles


def test_without_customer_ids_the_profile_seen_first_survives() -> None:
    graph = InMemoryGraph()
    graph.fold([touchpoint("late", at=T0 + timedelta(days=1), anonymous_id="phone-app")])
    graph.fold([touchpoint("early", at=T0, anonymous_id="laptop")])
    first = graph.owners[("anonymous_id", "laptop")]
    outcome = graph.fold([touchpoint("link", at=T0 + timedelta(days=2), anonymous_id="laptop", email="me@x.io")])
    outcome = graph.fold([touchpoint("link2", at=T0 + timedelta(days=3), anonymous_id="phone-app", email="me@x.io")])
    assert [m.survivor for m in outcome.merges] == [first]
    assert set(graph.profiles) == {first}


def test_identities_are_normalized_before_they_link() -> None:
    graph = InMemoryGraph()
    graph.fold([touchpoint("e1", email=" Jane@Example.COM ")])
    graph.fold([touchpoint("e2", email="jane@example.com", customer_id="j")])
    (pid,) = graph.profiles
    assert graph.identities_of(pid) == {("email", "jane@example.com"), ("customer_id", "j")}


def test_a_merge_chain_inside_one_batch_places_every_event_on_the_final_survivor() -> None:
    graph = InMemoryGraph()
    outcome = graph.fold(
        [
            touchpoint("e0", anonymous_id="z"),
            touchpoint("e1", anonymous_id="a"),
            touchpoint("e2", anonymous_id="b"),
            touchpoint("e3", anonymous_id="a", email="m@x.io"),
            touchpoint("e4", anonymous_id="b", customer_id="c"),
            touchpoint("e5", email="m@x.io", customer_id="c", anonymous_id="z"),
        ]
    )
    (pid,) = graph.profiles
    assert {p.profile_id for p in outcome.placements} == {pid}
    assert set(outcome.merged_into.values()) == {pid}
    assert len(outcome.merges) == 2
