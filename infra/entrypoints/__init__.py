"""How the ledger is reached and run: the CLI, the HTTP API and the long-running
workers (invoice consumer, outbox relay, projector). Each translates its input
and delegates to the application; none holds business rules."""
