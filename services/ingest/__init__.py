"""HTTP in, durable in Kafka: the native and Segment-compatible touchpoint APIs."""
