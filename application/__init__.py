"""Use cases of the ledger: the one entry point for the CLI, consumers and API."""
