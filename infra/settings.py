"""Every setting the service reads, from PROMOCREDITS_* environment variables."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROMOCREDITS_", extra="ignore")

    database_url: str = "sqlite:///var/ledger.db"
    views_database_url: str = "sqlite:///var/views.db"
    # Aggregates kept in memory by a writer; bounded so a long-running
    # consumer's memory stays flat however many accounts it sees.
    account_cache_size: int = Field(default=10_000, ge=0)
