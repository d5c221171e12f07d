from hypothesis import given
from hypothesis import strategies as st

from services.ingest.adapters.records import partition_key
from shared.events import Identities

_value = st.text("abc-@.1", min_size=1, max_size=8)


@given(
    customer_id=st.none() | _value,
    anonymous_id=st.none() | _value,
    email=st.none() | _value,
    phone=st.none() | _value,
    external=st.dictionaries(st.sampled_from(["crm", "erp", "a.b", "Z_1"]), _value, max_size=3),
)
def test_the_partition_key_is_the_shared_models_strongest_identity(
    customer_id: str | None, anonymous_id: str | None, email: str | None, phone: str | None, external: dict[str, str]
) -> None:
    identities = Identities(
        customer_id=customer_id, anonymous_id=anonymous_id, email=email, phone=phone, external=external
    )
    assert partition_key(identities) == identities.partition_key()
