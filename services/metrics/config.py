"""Settings of the metrics service (environment prefix TOUCHPOINT_)."""

from pydantic import Field

from shared.settings import CommonSettings


class MetricsSettings(CommonSettings):
    inactivity_days: int = Field(
        default=90,
        gt=0,
        description=(
            "A customer without a purchase for this many days counts as lost. Changing it restates every "
            "customer's loss day: run `touchpoint metrics rebuild-aggregates` afterwards."
        ),
    )
    annual_discount_rate: float = Field(
        default=0.10,
        ge=0,
        description=(
            "Continuously compounded yearly rate of the historical CLV. Changing it needs "
            "`touchpoint metrics rebuild-aggregates`."
        ),
    )
    monthly_discount_rate: float = Field(default=0.01, gt=-1, description="Monthly discount rate of predictive CLV.")
    margin: float = Field(default=1.0, gt=0, description="Share of revenue that is profit, for simple/predictive CLV.")
    time_unit_days: float = Field(default=7.0, gt=0, description="Time unit of the BG/NBD fit (7 = weeks).")
    refit_interval_s: float = Field(
        default=6 * 3600.0, ge=0, description="Refit the models when the last fit is this old (0 = never on a timer)."
    )
    refit_check_s: float = Field(default=60.0, gt=0, description="How often the API process checks if a refit is due.")
    gauge_refresh_s: float = Field(default=30.0, ge=0, description="How often the Prometheus gauges are recomputed.")
    consumer_max_records: int = Field(default=2000, gt=0, description="Largest batch the consumer folds at once.")
