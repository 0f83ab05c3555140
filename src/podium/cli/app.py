"""The ``podium`` command line: parse, call the API, print. No engine logic lives here.

Data goes to stdout (summaries, ``--json`` documents, graphs); messages and progress go to
stderr. Exit codes:

    0    the run completed (or the file is valid)
    1    the run failed or ended partial
    2    invalid input: a bad workflow file, an unknown capability, a handler that cannot be
         imported, a usage error, a request a server refused
    3    a service is away: a podium server (--server), or the server of the store
         (PostgreSQL) or of the bus (Redis), at the start or mid-run
    130  interrupted by Ctrl-C (SIGINT): running tasks were cancelled
    143  stopped by SIGTERM: running tasks were cancelled, as for Ctrl-C

Start-up stays fast (``podium --help`` well under 0.3 s) because only typer is imported at the
top: the engine, pydantic, yaml and most of rich are imported by the commands that use them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import commands, logs, planning, remote, runs, serve_mcp, service
from .output import leave, state

__all__ = ["app", "main"]

app = typer.Typer(
    name="podium",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # plain click help: rich's help formatter alone costs ~0.1 s of imports at every start
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def main() -> None:
    """Console entry point (``podium``, ``python -m podium``)."""
    import logging

    # asyncpg logs its reconnection attempts with tracebacks when PostgreSQL goes away;
    # podium reports the outage itself, in one line (exit code 3)
    logging.getLogger("asyncpg").addHandler(logging.NullHandler())
    logging.getLogger("asyncpg").propagate = False
    try:
        app(prog_name="podium")
    except SystemExit as exc:
        if state.fast_exit:  # the command is done (report written, output printed): go now
            leave(exc.code if isinstance(exc.code, int) else 1)
        raise
    if state.fast_exit:
        leave(0)


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"podium {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Orchestrate many agents: run DAG workflows of tasks routed by capability.

    Exit codes: 0 completed, 1 failed or partial, 2 invalid input, 3 a service (server, store,
    bus) is away, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
    """


commands.register(app)
runs.register(app)
logs.register(app)
serve_mcp.register(app)
planning.register(app)
service.register(app)
remote.register(app)
