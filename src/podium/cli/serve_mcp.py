"""``podium mcp``: serve podium itself to assistants over the Model Context Protocol."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

__all__ = ["register"]


class Transport(enum.StrEnum):
    stdio = "stdio"
    http = "http"


def register(app: typer.Typer) -> None:
    from .options import command

    command(app, mcp)


def mcp(
    transport: Annotated[
        Transport,
        typer.Option(
            "--transport",
            "-t",
            help="stdio (the assistant starts podium mcp and talks over its stdin and stdout) "
            "or http (streamable HTTP at http://HOST:PORT/mcp).",
        ),
    ] = Transport.stdio,
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="HOST", help="With --transport http: the address to listen on."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port", metavar="PORT", help="With --transport http: the port (0: a free one).", min=0
        ),
    ] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="PODIUM_DB",
            metavar="URL",
            help="Record runs in this store (a SQLite file, sqlite:///FILE or "
            "postgresql://USER@HOST/DB) [default: in memory, for the server's life].",
        ),
    ] = None,
) -> None:
    """Serve podium to assistants over MCP.

    Tools to validate, run and follow workflows, read a run's status and report, and list
    agents and runs. The HTTP server prints its address on stderr. Needs the mcp extra:
    pip install 'podium[mcp]'.
    """
    import asyncio

    from ..errors import ValidationError
    from .output import EXIT_OK, report_error, user_errors

    try:
        from ..mcp_server.app import serve
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("mcp"):
            raise
        error = ValidationError("podium mcp needs the mcp package: pip install 'podium[mcp]'")
        raise typer.Exit(report_error(error)) from None
    with user_errors():
        try:
            stopped = asyncio.run(serve(str(transport), host=host, port=port, db=db))
        except OSError as exc:
            if transport is Transport.stdio:
                raise
            raise ValidationError(
                f"podium mcp: cannot listen on {host}:{port}: {exc.strerror or exc}.",
                field="port",
            ) from None
    raise typer.Exit(128 + stopped if stopped else EXIT_OK)
