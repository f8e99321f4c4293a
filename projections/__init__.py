"""Read models built from the ledger's events: balances, usage history, analytics."""
