"""Settings of the profile service (environment, prefix TOUCHPOINT_)."""

from pydantic import Field

from services.profile.domain.lifecycle import LifecycleRules
from shared.lag import PROFILE_GROUP
from shared.settings import CommonSettings

_DEFAULT = LifecycleRules()


class ProfileSettings(CommonSettings):
    consumer_group: str = Field(default=PROFILE_GROUP, description="Consumer group of the fold consumers.")
    consumer_session_timeout_ms: int = Field(
        default=10_000, description="Kafka group session timeout: how soon a dead consumer's partitions move."
    )
    consumer_heartbeat_interval_ms: int = Field(default=3_000, description="Kafka group heartbeat interval.")
    consumer_fetch_max_wait_ms: int = Field(
        default=50,
        description="Longest a fetch waits for new records. A broker that answers a waiting fetch only when the wait "
        "ends (the embedded one does) adds up to this much to every event's way into the profile.",
    )
    fold_batch_size: int = Field(default=500, description="Most records folded in one transaction.")
    profile_cache_mb: int = Field(
        default=64,
        description="Memory a fold consumer may spend keeping the profiles it wrote decoded between batches "
        "(estimated; 0 = off). An entry is used only while the row's version is unchanged.",
    )
    outbox_batch_size: int = Field(default=500, description="Most outbox rows published per round.")
    outbox_idle_s: float = Field(default=0.05, description="Pause of the outbox relay when nothing is pending.")
    outbox_retention_s: float = Field(default=3600.0, description="How long published outbox rows are kept.")
    page_size_max: int = Field(default=200, description="Largest page of the list and timeline APIs.")
    loyal_min_orders: int = Field(default=_DEFAULT.loyal_min_orders, description="Orders a loyal customer has.")
    loyal_min_months: int = Field(
        default=_DEFAULT.loyal_min_months, description="Distinct calendar months with a purchase for loyal."
    )
    loyal_min_variety: int = Field(
        default=_DEFAULT.loyal_min_variety, description="Distinct categories or products bought for loyal."
    )
    advocate_min_rating: int = Field(
        default=_DEFAULT.advocate_min_rating, description="Review rating that counts as positive."
    )
    advocate_min_nps: int = Field(default=_DEFAULT.advocate_min_nps, description="Latest NPS that makes a promoter.")
    at_risk_days: int = Field(default=_DEFAULT.at_risk_days, description="Days without a purchase to be at risk.")
    churn_days: int = Field(default=_DEFAULT.churn_days, description="Days without a purchase to be churned.")

    @property
    def lifecycle(self) -> LifecycleRules:
        return LifecycleRules(
            loyal_min_orders=self.loyal_min_orders,
            loyal_min_months=self.loyal_min_months,
            loyal_min_variety=self.loyal_min_variety,
            advocate_min_rating=self.advocate_min_rating,
            advocate_min_nps=self.advocate_min_nps,
            at_risk_days=self.at_risk_days,
            churn_days=self.churn_days,
        )
