"""Settings every service reads from the environment (prefix TOUCHPOINT_)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import Topics


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5433/touchpoint",
        description="SQLAlchemy URL of the Postgres database (asyncpg driver).",
    )
    db_pool_size: int = Field(default=10, description="Connections kept in each process's pool.")
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    kafka_idempotence: bool = Field(
        default=True, description="Idempotent producer; off for brokers without it (the embedded Tansu)."
    )
    kafka_send_timeout_s: float = Field(default=5.0, description="Longest wait for a broker acknowledgement.")
    kafka_partitions: int = Field(default=6, description="Partitions of touchpoints.v1 when created.")
    kafka_replication: int = Field(default=1, description="Replication factor of created topics (3 in production).")
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool = Field(default=True, description="Structured JSON logs on stderr.")
    topic_prefix: str = Field(
        default="", description="Prefix of every topic name (isolates environments on one cluster)."
    )
    metrics_port: int = Field(
        default=0, description="Port for /metrics and /healthz of a consumer process (0 = off)."
    )
    key_cache_ttl_s: float = Field(default=2.0, description="How long a verified API key is trusted before re-check.")

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)
