"""The embedded development stack: Postgres and a Kafka-protocol broker, no Docker."""
