"""Every setting the service reads, from PROMOCREDITS_* environment variables."""

from pathlib import PurePosixPath

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

API_ROLES = ("reader", "operator", "auditor")

# Where ops/kafka/kafka.sh runs the local broker.
LOCAL_KAFKA_BOOTSTRAP = "127.0.0.1:9092"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROMOCREDITS_", extra="ignore")

    database_url: str = "sqlite:///var/ledger.db"
    # Unset: beside the ledger, so the views always describe this ledger:
    # the same PostgreSQL database (the view tables have names of their own),
    # or views.db in the SQLite ledger's directory (sqlite:///var/views.db).
    views_database_url: str | None = None
    # Aggregates kept in memory by a writer; bounded so a long-running
    # consumer's memory stays flat however many accounts it sees.
    account_cache_size: int = Field(default=10_000, ge=0)

    # Kafka pipeline. No bootstrap servers means the local broker that
    # `make kafka-up` starts.
    kafka_bootstrap_servers: str | None = None
    invoices_topic: str = "billing.invoices.generated"
    dead_letter_topic: str = "billing.invoices.generated.dlq"
    voids_topic: str = "billing.invoices.voided"
    voids_dead_letter_topic: str = "billing.invoices.voided.dlq"
    settlements_topic: str = "promotional-credits.invoice-settlements"
    ledger_events_topic: str = "promotional-credits.ledger-events"
    consumer_group: str = "promotional-credits-ledger"
    # Topics the service creates at start when they are missing.
    kafka_partitions: int = Field(default=6, ge=1)
    # -1: the broker's default.replication.factor.
    kafka_replication_factor: int = Field(default=-1, ge=-1)
    # One store transaction per poll: the larger the batch, the fewer commits.
    consumer_batch_size: int = Field(default=2_000, ge=1)
    # How long a crashed consumer's partitions wait before the group hands
    # them to another member (or to its own restart).
    consumer_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    # Static group membership: a stable id per instance (a pod name, say)
    # lets a restarted consumer take its partitions back without a rebalance.
    consumer_instance_id: str | None = None
    relay_batch_size: int = Field(default=2_000, ge=1)
    # How long the relay sleeps when it has published everything recorded.
    relay_idle_seconds: float = Field(default=0.05, gt=0)

    # HTTP API. Tokens map to roles (reader, operator, auditor); repr=False
    # keeps them out of logs and tracebacks.
    api_tokens: dict[str, str] = Field(default_factory=dict, repr=False)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    # How often caught-up projections look for new events.
    projection_poll_seconds: float = Field(default=0.1, gt=0)
    # Events applied to the views per transaction: commits and per-batch
    # reads dominate below a couple of thousand.
    projection_batch_size: int = Field(default=2_000, ge=1)
    # /readyz answers 503 when the views lag more events than this behind
    # the event store: a burst the projector absorbs in seconds stays ready.
    readiness_max_lag_events: int = Field(default=10_000, ge=0)
    # ... and when events have waited this long without the views moving:
    # the projector is stopped (or stuck), not merely busy.
    readiness_max_stall_seconds: int = Field(default=30, ge=1)

    @field_validator("api_tokens")
    @classmethod
    def _known_roles(cls, tokens: dict[str, str]) -> dict[str, str]:
        # Checked here rather than by the type, whose error would name the
        # offending key, and the key is a secret token.
        unknown = sorted(set(tokens.values()) - set(API_ROLES))
        if unknown:
            raise ValueError(f"roles must be {', '.join(API_ROLES)}; got {', '.join(map(repr, unknown))}")
        return tokens

    @property
    def views_url(self) -> str:
        if self.views_database_url:
            return self.views_database_url
        if self.database_url.startswith("sqlite:///"):
            ledger = PurePosixPath(self.database_url.removeprefix("sqlite:///"))
            return f"sqlite:///{ledger.with_name('views.db')}"
        return self.database_url

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_servers or LOCAL_KAFKA_BOOTSTRAP
