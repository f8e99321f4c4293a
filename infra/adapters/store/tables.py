"""Names of the tables the ledger's recorders write, for every reader of them."""

# eventsourcing's own events tables: SQLite's default name, and PostgreSQL's
# named after the application ("Ledger").
SQLITE_EVENTS = "stored_events"
POSTGRES_EVENTS = "ledger_events"

# Beside them: the tamper-evidence chain and the store-wide invoice claims.
SQLITE_CHAIN = "event_chain"
SQLITE_CLAIMS = "invoice_claims"
CHAIN_SUFFIX = "_chain"
CLAIMS_SUFFIX = "_invoice_claims"
# Each recorded decision's business key, unique within its account.
SQLITE_KEYS = "business_keys"
# eventsourcing's snapshots table in SQLite (PostgreSQL's is named after the application).
SQLITE_SNAPSHOTS = "stored_snapshots"
KEYS_SUFFIX = "_business_keys"
POSTGRES_CHAIN = POSTGRES_EVENTS + CHAIN_SUFFIX
