"""The store schema: a new SQLite store made from head_sqlite.sql equals one Alembic builds."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from podium import migrations
from podium.migrations import dump


def _schema(path: Path) -> list[tuple[str, str, str | None]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        version = conn.execute(f"SELECT version_num FROM {migrations.VERSION_TABLE}").fetchall()
    finally:
        conn.close()
    assert version == [(migrations.HEAD,)]
    # Alembic leaves blank lines after WITHOUT ROWID; SQLite keeps the text as given
    return [(t, n, sql.strip() if sql else sql) for t, n, sql in rows]


def test_head_file_matches_the_migrations() -> None:
    shipped = (migrations.FOLDER / "head_sqlite.sql").read_text(encoding="utf-8")
    assert shipped == dump.render(dump.alembic_schema()), (
        "head_sqlite.sql is out of date: run `python -m podium.migrations.dump`"
    )


def test_a_new_store_has_the_schema_alembic_makes(tmp_path: Path) -> None:
    fast = tmp_path / "fast.db"
    conn = sqlite3.connect(fast, isolation_level=None)
    assert migrations.create_sqlite(conn) is True
    assert migrations.create_sqlite(conn) is False  # made already: left alone
    conn.close()
    slow = tmp_path / "slow.db"
    migrations.upgrade(f"sqlite:///{slow}")
    assert _schema(fast) == _schema(slow)


def test_opening_a_new_store_imports_neither_sqlalchemy_nor_alembic(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from podium.stores import open_store\n"
        "async def main():\n"
        f"    s = open_store({str(tmp_path / 'new.db')!r})\n"
        "    await s.open()\n"
        "    await s.close()\n"
        "    s = open_store(s.path)\n"  # and again, now that it exists
        "    await s.open()\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
        "print(','.join(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""


def test_head_names_the_newest_revision() -> None:
    files = sorted((migrations.FOLDER / "versions").glob("[0-9]*.py"))
    ids = [re.match(r"(\d+)_", f.name).group(1) for f in files]  # type: ignore[union-attr]
    assert tuple(ids) == migrations.REVISIONS
    assert ids[-1] == migrations.HEAD
