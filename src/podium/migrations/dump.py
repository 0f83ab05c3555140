"""Write `head_sqlite.sql` from the migrations: ``python -m podium.migrations.dump``.

Run it after adding a migration (and setting `HEAD`), so new SQLite stores get the new schema.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from podium import migrations

_HEADER = """\
-- The SQLite schema at migrations.HEAD, as Alembic creates it (written by
-- `python -m podium.migrations.dump`; tests/test_migrations.py checks they agree).
-- A new store is created from this file, which skips importing SQLAlchemy and Alembic.
"""


def alembic_schema() -> list[str]:
    """The CREATE statements of a new SQLite database migrated to HEAD by Alembic."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "head.db"
        migrations.upgrade(f"sqlite:///{path}")
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
            ).fetchall()
        finally:
            conn.close()
    return [r[0] for r in rows]


def render(statements: list[str]) -> str:
    return _HEADER + "".join(s.rstrip() + ";\n--\n" for s in statements)


if __name__ == "__main__":
    out = migrations.FOLDER / "head_sqlite.sql"
    out.write_text(render(alembic_schema()), encoding="utf-8")
    print(f"wrote {out}")
