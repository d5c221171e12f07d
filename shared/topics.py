from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    touchpoints: str
    touchpoints_dlq: str
    customers: str
    customers_dlq: str
    suppressions: str

    @classmethod
    def with_prefix(cls, prefix: str = "") -> "Topics":
        return cls(
            touchpoints=f"{prefix}touchpoints.v1",
            touchpoints_dlq=f"{prefix}touchpoints.dlq.v1",
            customers=f"{prefix}customers.v1",
            customers_dlq=f"{prefix}customers.dlq.v1",
            suppressions=f"{prefix}suppressions.v1",
        )

    def all(self) -> list[str]:
        return [self.touchpoints, self.touchpoints_dlq, self.customers, self.customers_dlq, self.suppressions]
