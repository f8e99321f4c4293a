"""kafka-python wiring of the invoice pipeline: the consumer, the outbox relay,
topic creation."""
