"""kafka-python clients and topics, built from settings."""
