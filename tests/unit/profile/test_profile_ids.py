from uuid import UUID

from services.profile.adapters.ids import RandomIds


def test_new_ids_are_distinct_random_version_4_uuids_equal_to_their_standard_form() -> None:
    new_id = RandomIds()
    ids = [new_id() for _ in range(1000)]  # several draws of the pool
    assert len(set(ids)) == 1000
    for pid in ids:
        assert isinstance(pid, UUID) and pid.version == 4 and pid.variant == "specified in RFC 4122"
        standard = UUID(str(pid))
        assert standard == pid and hash(standard) == hash(pid) and {standard: 1}[pid] == 1
