"""The ingest service's settings (environment prefix TOUCHPOINT_, as every service)."""

from pydantic import Field

from shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    max_batch_events: int = Field(default=500, description="Most events one request may carry.")
    max_body_bytes: int = Field(default=512 * 1024, description="Largest request body, measured after gzip inflation.")
    max_event_bytes: int = Field(default=32 * 1024, description="Largest single event, serialized.")
    max_properties_bytes: int = Field(default=8 * 1024, description="Largest `properties` object of an event.")
    rate_limit_events_per_s: float = Field(
        default=5000.0, description="Sustained events per second per write key (0 turns rate limiting off)."
    )
    rate_limit_burst: int = Field(default=20_000, description="Events a write key may send at once before limiting.")
    max_sends_in_flight: int = Field(
        default=20_000, description="Events awaiting a broker acknowledgement before new requests get 503."
    )
    retry_after_s: int = Field(default=5, description="Retry-After (seconds) sent with 503 answers.")
    broker_probe_interval_s: float = Field(default=1.0, description="How often broker metadata is fetched.")
    broker_ready_max_age_s: float = Field(
        default=5.0, description="Ready only while the last successful metadata fetch is at most this old."
    )
    producer_reset_after_s: float = Field(
        default=15.0, description="Recreate the producer when its sends fail this long while the broker answers."
    )
    kafka_linger_ms: int = Field(
        default=0,
        description="How long the producer holds a batch before sending it. Batches already grow with the load "
        "(group commit: what arrives while a batch is in flight goes in the next one), so waiting only adds latency.",
    )
    suppression_poll_ms: int = Field(default=250, description="Longest wait for new suppressions per poll.")
