"""The ``podium`` command line: parse, call the API, print. No engine logic lives here.

app.py       the typer app, the root command, `main`
commands.py  run, validate, graph, demo
runs.py      recorded runs: resume, runs, status, report
logs.py      podium logs: a run's history and its tasks' lines, --follow
stored.py    reading a run store: shared options, documents
planning.py  plan (a goal -> a workflow) and tensor (who runs what)
execute.py   running a prepared run: signals, progress, summary, exit code
output.py    consoles, error lines, JSON, the summary table, exit codes
progress.py  the live progress display
"""

from .app import app as app
from .app import main as main

__all__ = ["app", "main"]
