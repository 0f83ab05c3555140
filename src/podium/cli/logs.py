"""``podium logs``: a recorded run's history, with what its tasks printed and logged, and
``--follow`` to keep printing while it runs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .stored import (
    DbOpt,
    JsonOpt,
    KeyOpt,
    RunIdArg,
    ServerOpt,
    existing_store,
    history,
    need_db,
    read_store,
)

if TYPE_CHECKING:
    from ..stores.base import Store, Transition

__all__ = ["logs", "register"]


def register(app: typer.Typer) -> None:
    """Add ``logs`` to ``app``."""
    from .options import command

    command(app, logs)


def logs(
    run_id: RunIdArg,
    db: DbOpt = None,
    json_out: JsonOpt = False,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", "-t", metavar="ID", help="Only this task (repeat for more)."),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep printing new lines until the run ends (with --db)."
        ),
    ] = False,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Show the ordered history of a recorded run, with what its tasks printed and logged.

    Who ran what and when: each attempt, its error and traceback, every line a task wrote
    (print, logging, ctx.log) and run-level events (resumes, agents paused or scaled)."""
    from .output import console, print_json

    async def work(store: Store) -> list[Transition]:
        return await store.transitions(run_id)

    if server:
        if follow:
            from ..errors import ValidationError
            from .output import user_errors

            with user_errors(json_out):
                raise ValidationError(
                    "--follow reads the run's store: give --db instead of --server.",
                    field="follow",
                )
        from .remote import remote_logs

        found = remote_logs(run_id, server, key, json_out, task)
        if found is None:
            return
        events = found
    elif follow:
        _follow(run_id, need_db(db), set(task) if task else None, json_out)
        return
    else:
        events = history(read_store(db, json_out, work))
    if task:
        wanted = set(task)
        events = [e for e in events if e["task"] in wanted]
    if json_out:
        print_json(events)
        return
    out = console()
    width = max((len(e["task"] or "") for e in events), default=4)
    for e in events:
        _print_event(out, e, width)


def _print_event(out: Any, e: dict[str, Any], width: int) -> None:
    from rich.text import Text

    from .output import STYLES, duration

    when = (e["at"] or "-").replace("T", " ")[:23]
    line = Text(f"{when}  ")
    if e.get("event") == "log":
        line.append(f"{e['task'] or '-':<{width}}  ")
        line.append(f"#{e['attempt'] or 0:<2} ")
        line.append(f"{e['stream'] or 'log':<9}", style="bright_black")
        line.append(f" {e['text']}")
    elif e["task"] is None:
        line.append(f"{'-':<{width}}  event {e['event']}", style="bright_black")
        if e.get("data"):
            line.append(" " + " ".join(f"{k}={v}" for k, v in e["data"].items()))
    else:
        line.append(f"{e['task']:<{width}}  ")
        line.append(f"#{e['attempt'] or 0:<2} ")
        line.append(f"{e['status']:<9}", style=STYLES.get(e["status"], ""))
        if e["agent"]:
            line.append(f" on {e['agent']}")
        if e.get("duration") is not None:
            line.append(f" after {duration(e['duration'])}")
        if e.get("error"):
            line.append(f"  {e['error']}", style="red")
        if e.get("note"):
            line.append(f"  ({e['note']})", style="bright_black")
    line.rstrip()
    out.print(line, soft_wrap=True, highlight=False)
    if e.get("traceback"):
        tb = Text("\n".join("    " + x for x in e["traceback"].rstrip("\n").splitlines()))
        out.print(tb, style="bright_black", soft_wrap=True, highlight=False)


def _follow(run_id: str, db: str, wanted: set[str] | None, json_out: bool) -> None:
    """Print the run's history, then what is recorded next, until the run ends (Ctrl-C stops
    following and leaves the run alone). With ``--json``, one event per line."""
    import json as _json

    from .output import console, user_errors

    out = console()

    async def poll() -> None:
        store = existing_store(db)
        await store.open()
        try:
            seen = 0  # highest seq printed
            while True:
                saved = await store.get_run(run_id)
                new = [t for t in await store.transitions(run_id) if t.seq > seen]
                if new:
                    seen = new[-1].seq
                    for e in history(new):
                        if wanted is not None and e["task"] not in wanted:
                            continue
                        if json_out:
                            print(_json.dumps(e, default=str), flush=True)
                        else:
                            _print_event(out, e, 12)
                if saved.status != "running" or saved.owner_alive() is False:
                    return
                await asyncio.sleep(0.5)
        finally:
            await store.close()

    with user_errors(json_out):
        try:
            asyncio.run(poll())
        except KeyboardInterrupt:
            pass
