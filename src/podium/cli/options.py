"""Arguments and options that several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FileArg = Annotated[
    Path,
    typer.Argument(help="Workflow file (YAML or JSON).", metavar="FILE", show_default=False),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document to stdout instead of tables."),
]
