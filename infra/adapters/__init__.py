"""The outside world behind the application's ports: event-store recorders,
view stores, Kafka clients and the store's leadership locks."""
