"""Arguments and options that several commands share, and how a command's help is printed."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

FileArg = Annotated[
    Path,
    typer.Argument(help="Workflow file (YAML or JSON).", metavar="FILE", show_default=False),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document to stdout instead of tables."),
]


class Command(TyperCommand):
    """A command whose help reads like its docs: ``podium run [OPTIONS] FILE`` (not
    ``{FILE}``), and an argument listed by its name alone (not ``FILE <path>``)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p[:1] == "{" and p[-1:] == "}" else p for p in pieces]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            rv = param.get_help_record(ctx)
            if rv is None:
                continue
            if param.param_type_name == "argument":
                args.append((param.metavar or rv[0], rv[1]))
            else:
                opts.append(rv)
        for title, rows in (("Arguments", args), ("Options", opts)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def first_sentence(fn: Callable[..., Any]) -> str:
    """The first sentence of ``fn``'s docstring: the command's line in ``podium --help``,
    given in full (click would cut a longer first line with "...")."""
    doc = inspect.getdoc(fn) or ""
    text = " ".join(doc.split("\n\n", 1)[0].split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def command(app: typer.Typer, fn: Callable[..., Any]) -> None:
    """Add ``fn`` to ``app`` as a command with podium's help format."""
    app.command(cls=Command, short_help=first_sentence(fn))(fn)


AllowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-module",
        metavar="MODULE",
        help="The workflow may name code (handlers, pattern functions) from this module and its "
        "submodules, besides its own folder's; repeat for more (also PODIUM_ALLOW_MODULES=a,b).",
    ),
]


def allow(modules: list[str] | None) -> None:
    """``--allow-module``: allowed for the rest of the command."""
    if modules:
        from .._utils.code import allow_for_process

        allow_for_process(modules)


ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="PODIUM_SERVER",
        metavar="URL",
        help="A podium server (podium serve) to ask instead of a store: http://HOST:PORT.",
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="PODIUM_KEY",
        metavar="KEY",
        help="The API key (or JWT) for --server.",
    ),
]


class Backend(enum.StrEnum):
    local = "local"
    ray = "ray"


BackendOpt = Annotated[
    Backend,
    typer.Option(
        "--backend",
        envvar="PODIUM_BACKEND",
        help="Where agents run: local (this process) or ray (Ray actors; docs/ray.md).",
    ),
]
GatesOpt = Annotated[
    str | None,
    typer.Option(
        "--gates",
        envvar="PODIUM_GATES",
        metavar="URL",
        help="Share concurrency keys and rate limits with other processes through this Redis "
        "(redis://HOST:6379/0; docs/resources.md).",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        envvar="RAY_ADDRESS",
        metavar="ADDRESS",
        help="With --backend ray: the cluster (auto, ray://HOST:10001); default a local one.",
    ),
]
