"""The ingest service's Prometheus metrics. Labels carry codes and API names, never customer data."""

from prometheus_client import Counter, Gauge, Histogram

ACCEPTED = Counter("touchpoints_accepted_total", "Touchpoints acknowledged by the broker and answered 2xx.", ["api"])
REJECTED = Counter(
    "touchpoints_rejected_total",
    "Touchpoints refused, by reason code (request-level refusals count once per request).",
    ["reason"],
)
SEND_DURATION = Histogram(
    "touchpoint_kafka_send_duration_seconds",
    "From handing a request's records to the producer until the broker acknowledged them all.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SENDS_IN_FLIGHT = Gauge("touchpoint_kafka_sends_in_flight", "Records handed to the producer and not yet acknowledged.")
UNAVAILABLE = Counter(
    "touchpoint_ingest_unavailable_total", "Requests answered 503, by cause.", ["reason"]
)  # broker_down | overloaded | timeout
SUPPRESSIONS = Gauge("touchpoint_ingest_suppressions", "Suppressed identity fingerprints held in memory.")
PRODUCER_RESETS = Counter("touchpoint_ingest_producer_resets_total", "Kafka producers recreated after getting stuck.")
