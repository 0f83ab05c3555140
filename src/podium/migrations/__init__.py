"""The store schema, under version control with Alembic (``versions/`` holds one file per step).

Stores call `upgrade` when they open a database whose schema is older than `HEAD`; a store
already at `HEAD` is checked with one query and never imports SQLAlchemy or Alembic, which are
slow to import (about half a second). A new SQLite store is made from `head_sqlite.sql`, the
schema at `HEAD` as Alembic writes it, for the same reason (`create_sqlite`). Add a step with::

    alembic -x url=... revision -m "what changes"   # then set HEAD below to its id
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

__all__ = ["HEAD", "REVISIONS", "VERSION_TABLE", "create_sqlite", "sqlite_head", "upgrade"]

HEAD = "0002"  # the newest revision in versions/ (a test checks they agree)
REVISIONS = ("0001", "0002")  # every revision, oldest first
VERSION_TABLE = "podium_version"  # not alembic_version: the database may hold other apps
LOCK_ID = 7_406_392_113  # PostgreSQL advisory lock taken while migrating

FOLDER = Path(__file__).resolve().parent
# Alembic keeps the running migration in module globals (alembic.context): one at a time per
# process. Between processes, the database's own lock (see env.py) does the same job.
_ONE_AT_A_TIME = threading.Lock()


def config(connection: Any = None, schema: str | None = None) -> Any:
    """An Alembic `Config` for these migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(FOLDER))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(url: str, *, connect_args: dict[str, Any] | None = None, schema: str | None = None):
    """Bring the database at SQLAlchemy ``url`` to `HEAD`, in one locked transaction."""
    import sqlalchemy as sa
    from alembic import command
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(url, connect_args=connect_args or {}, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        from sqlalchemy import event

        # pysqlite would start transactions lazily and without a write lock; take the lock
        # up front so a second process waits, then finds the schema done.
        @event.listens_for(engine, "connect")
        def _autocommit(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with _ONE_AT_A_TIME, engine.connect() as conn:
            command.upgrade(config(conn, schema), "head")
    finally:
        engine.dispose()


def sqlite_head() -> list[str]:
    """The statements of `head_sqlite.sql`: the SQLite schema at `HEAD`."""
    text = (FOLDER / "head_sqlite.sql").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("-- "))
    return [s.strip().removesuffix(";") for s in body.split("\n--\n") if s.strip()]


def create_sqlite(conn: Any) -> bool:
    """Create the schema at `HEAD` in an empty SQLite database (a `sqlite3` connection in
    autocommit mode), under a write lock; False when another process made it first."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (VERSION_TABLE,)
        ).fetchone()
        if found is None:
            for statement in sqlite_head():
                conn.execute(statement)
            conn.execute(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (?)", (HEAD,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found is None
