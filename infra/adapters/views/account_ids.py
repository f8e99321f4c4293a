"""Known account ids from the views, for the explanation's close matches."""

from __future__ import annotations

from infra.adapters.views.store import ViewStoreMixin

# Served by the index on lower(account_id) (see schema): one index probe.
# Account ids are ASCII (domain.rules), so lower() folds them the same way
# in SQLite and PostgreSQL.
_SAME_IGNORING_CASE = (
    "SELECT account_id FROM view_accounts WHERE lower(account_id) = :folded ORDER BY account_id LIMIT :limit"
)


class ViewsAccountIds:
    """The KnownAccounts port (application.explanation) over the views."""

    def __init__(self, store: ViewStoreMixin) -> None:
        self._store = store
        self._statement = store.views_sql.convert(_SAME_IGNORING_CASE)

    def same_ignoring_case(self, account_id: str, limit: int) -> list[str]:
        with self._store._transaction(commit=False) as c:
            c.execute(self._statement, {"folded": account_id.lower(), "limit": limit})
            return [row["account_id"] for row in c.fetchall()]


class NoViews:
    """No views database yet: no account id is known beyond the ledger's."""

    def same_ignoring_case(self, account_id: str, limit: int) -> list[str]:
        return []
