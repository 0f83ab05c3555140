"""Run stores: where runs, every task transition and the result cache are kept.

    Store          (base.py)      the interface; `open_store(url)` (open.py) picks one
    MemoryStore    (memory.py)    this process only
    SQLiteStore    (sqlite.py)    one file, no server: the default of ``podium run --db``
    PostgresStore  (postgres.py)  a PostgreSQL database shared by processes and machines

>>> store = podium.stores.open_store("runs.db")
>>> orch = podium.Orchestrator(store=store)     # or store="runs.db"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import CacheEntry as CacheEntry
from .base import RunRecord as RunRecord
from .base import Store as Store
from .base import TaskState as TaskState
from .base import Transition as Transition
from .memory import MemoryStore as MemoryStore
from .open import open_store as open_store

if TYPE_CHECKING:
    from .postgres import PostgresStore as PostgresStore
    from .sqlite import SQLiteStore as SQLiteStore

__all__ = [
    "CacheEntry",
    "MemoryStore",
    "PostgresStore",
    "RunRecord",
    "SQLiteStore",
    "Store",
    "TaskState",
    "Transition",
    "open_store",
]


def __getattr__(name: str) -> Any:
    # sqlite3 and asyncpg load only when a store of that kind is used
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'podium.stores' has no attribute {name!r}")
