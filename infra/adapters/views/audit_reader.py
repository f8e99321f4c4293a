"""The balance view as `promocredits audit verify` compares it with the replay."""

from __future__ import annotations

from application.audit.verify import ViewBalance, ViewsSnapshot
from infra.adapters.views.store import ViewStoreMixin


class ViewsAuditReader:
    def __init__(self, store: ViewStoreMixin, application_name: str) -> None:
        self._store = store
        self._application_name = application_name

    def snapshot(self) -> ViewsSnapshot:
        position, rows = self._store.balances_snapshot(self._application_name)
        return ViewsSnapshot(position or 0, [ViewBalance(*row) for row in rows])
