"""The SQL views for other tools (rollout_decisions, gaps, actions, series_latest), read by review.

The views are created in the history by store migration 4 (engine/store/schema.py V4_VIEWS;
documented in docs/schema.md), so sqlite-utils and Datasette users find them in the file. Review
reads every file at the latest schema (engine/history/opener.py upgrades an older one in a private
copy), so the views are always there: one definition for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.history.db import HistoryDB
from engine.store.schema import V4_VIEWS

NAMES = tuple(V4_VIEWS)


def query(db: HistoryDB, name: str, where: str = "", params: Sequence[Any] = (), order: str = "",
          limit: int = 10_000) -> list[dict[str, Any]]:
    """Rows of a view as dicts (`where` and `order` are our own SQL fragments, never user text)."""
    if name not in V4_VIEWS:
        raise ValueError(f"unknown view {name!r}; known: {', '.join(NAMES)}")
    sql = f"SELECT * FROM {name}"
    if where:
        sql += f" WHERE {where}"
    if order:
        sql += f" ORDER BY {order}"
    sql += " LIMIT ?"
    return db.dict_rows(sql, [*params, int(limit)])
