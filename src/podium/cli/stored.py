"""Reading a run store for the commands about recorded runs (runs.py, logs.py): the shared
options, opening a store that must exist, and the documents made from what it holds."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..stores.base import RunRecord, Store, TaskState, Transition

__all__ = ["DbOpt", "JsonOpt", "KeyOpt", "RunIdArg", "ServerOpt", "existing_store", "history"]

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="PODIUM_DB",
        metavar="URL",
        help="The run store: a SQLite file (or sqlite:///FILE) or postgresql://USER@HOST/DB.",
    ),
]
RunIdArg = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.")]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document to stdout instead of tables."),
]
ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="PODIUM_SERVER",
        metavar="URL",
        help="Ask this podium server (podium serve) instead of a store.",
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", envvar="PODIUM_KEY", metavar="KEY", help="The API key for --server."),
]


def existing_store(db: str) -> Store:
    """The store ``db`` names, which must exist: the commands that only read runs refuse a
    SQLite file that is not there (a typo) instead of creating an empty store."""
    import os

    from ..errors import StoreError
    from ..stores import open_store

    store = open_store(db)
    path = getattr(store, "path", None)
    if path is not None and path != ":memory:" and not os.path.exists(path):
        from .._utils.text import did_you_mean

        folder = os.path.dirname(path) or "."
        try:
            near = [os.path.join(os.path.dirname(path), f) for f in os.listdir(folder)]
        except OSError:
            near = []
        raise StoreError(
            f"--db {db}: no such store file {path!r}.{did_you_mean(path, near)} This command "
            "reads recorded runs and does not create a store: check the path "
            "(`podium run FILE --db PATH` records a run and creates the file).",
            file=db,
            field="db",
        )
    return store


async def with_store(db: str, work: Any) -> Any:
    store = existing_store(db)
    try:
        await store.open()
        return await work(store)
    finally:
        await store.close()


def ordered_states(saved: RunRecord, states: dict[str, TaskState]) -> dict[str, TaskState]:
    from ..report.documents import ordered_states

    return ordered_states(saved, states)


def usage_stats(states: dict[str, TaskState]) -> dict[str, Any]:
    from ..report.documents import _usage_stats

    return _usage_stats(states)


def run_document(saved: RunRecord, states: dict[str, TaskState]) -> dict[str, Any]:
    from ..report.documents import run_document

    return run_document(saved, states)


def history(transitions: list[Transition]) -> list[dict[str, Any]]:
    from ..report.documents import history

    return history(transitions)


def read_store(db: str | None, json_out: bool, work: Any) -> Any:
    """Run ``work(store)`` on an opened store; store errors become ``error: ...``, exit 2."""
    from .output import user_errors

    with user_errors(json_out):
        return asyncio.run(with_store(need_db(db), work))


def need_db(db: str | None) -> str:
    if not db:
        from ..errors import ValidationError

        raise ValidationError(
            "give the run store (--db URL, or PODIUM_DB) or a server (--server URL).",
            field="db",
        )
    return db
