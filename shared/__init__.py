"""What every touchpoint service needs: the event schema, the Kafka envelope, settings,
database and observability plumbing."""
