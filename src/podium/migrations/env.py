"""Alembic environment of the podium store schema.

podium runs it itself when a store opens (`podium.migrations.upgrade`), on a connection it
made: the whole upgrade is one transaction, taken with a write lock first (BEGIN IMMEDIATE on
SQLite, an advisory lock on PostgreSQL), so two processes opening a new store at once do not
both create it.
"""

from __future__ import annotations

from alembic import context

from podium.migrations import LOCK_ID, VERSION_TABLE

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "podium migrations run on a connection given by podium.migrations.upgrade(url); "
        "open the store (podium.stores.open_store(url)) instead of calling alembic directly."
    )
schema = config.attributes.get("schema")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table=VERSION_TABLE,
    version_table_schema=schema,
    transactional_ddl=True,
)

with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_ID})")
        if schema:
            quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
    context.run_migrations()
