"""`open_store`: the store a URL names. It knows every implementation; none of them knows it."""

from __future__ import annotations

import os

from ..errors import StoreError
from .base import Store, redact

__all__ = ["open_store"]


def open_store(url: str | os.PathLike[str] | Store) -> Store:
    """The store a URL names (not opened yet: await ``store.open()``).

    ``memory`` (this process only), a file path or ``sqlite:///path/runs.db`` (SQLite; a
    relative path after ``sqlite:///``, an absolute one after ``sqlite:////``), or
    ``postgresql://user@host:5432/db`` (PostgreSQL; ``?schema=name`` picks a schema).

    >>> store = open_store("runs.db")
    """
    if isinstance(url, Store):
        return url
    text = os.fspath(url)
    if not isinstance(text, str) or not text.strip():
        raise StoreError(
            "the store URL is empty. Give a file path, sqlite:///FILE, "
            "postgresql://USER@HOST/DB or memory.",
            field="store",
        )
    if text in ("memory", "memory://", ":memory:"):
        from .memory import MemoryStore

        return MemoryStore()
    scheme, sep, rest = text.partition("://")
    if not sep:
        from .sqlite import SQLiteStore

        return SQLiteStore(text)
    scheme = scheme.lower()
    if scheme in ("sqlite", "sqlite3"):
        if not rest.startswith("/") or rest == "/":
            raise StoreError(
                f"{text}: a SQLite URL looks like sqlite:///runs.db (relative path) or "
                "sqlite:////abs/path/runs.db; or give the file path alone.",
                file=text,
                field="store",
            )
        from .sqlite import SQLiteStore

        return SQLiteStore(rest[1:].split("?", 1)[0], url=text)
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        from .postgres import PostgresStore

        return PostgresStore(text)
    raise StoreError(
        f"{redact(text)}: unknown store URL scheme {scheme!r}. Use a file path or "
        "sqlite:///FILE (SQLite), postgresql://USER@HOST/DB (PostgreSQL) or memory.",
        file=text,
        field="store",
    )
