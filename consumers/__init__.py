"""Kafka-facing translation: message contracts in and out, and the pure logic
that turns messages into ledger calls and recorded events into messages.

Nothing here talks to Kafka or a database; infra wires the clients in.
"""
