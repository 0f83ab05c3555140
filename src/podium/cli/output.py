"""What the command line prints and how it ends: consoles, ``error:`` lines, JSON documents,
the summary table, and the exit codes.

Data goes to stdout (summaries, ``--json`` documents, graphs); messages and progress go to
stderr.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .._utils.text import plural

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from ..engine.run import Run
    from ..errors import PodiumError
    from ..result import RunResult, TaskResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_SERVICE = 3  # a service is away: a podium server, a store's or a bus's server
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 128 + 15

SUMMARY_ROWS = 50  # rows of the summary table before it says "... N more"


class _State:
    # set when a finished run left sync handlers running in threads: the command exits
    # without waiting for them once it is done
    fast_exit = False


state = _State()


CONSOLES: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    """The stdout (data) or stderr (messages, progress) console; rich detects the terminal."""
    console = CONSOLES.get(stderr)
    if console is None:
        from rich.console import Console

        console = CONSOLES[stderr] = Console(stderr=stderr, highlight=False)
    return console


def say(text: str, *, stderr: bool = True, style: str | None = None) -> None:
    """Print one line as is (no markup, no wrapping)."""
    console(stderr).print(text, style=style, markup=False, soft_wrap=True)


def exit_code_for(exc: PodiumError) -> int:
    from ..errors import (
        CapabilityError,
        HandlerError,
        RemoteError,
        ServiceUnavailable,
        StoreError,
        ValidationError,
    )

    if isinstance(exc, ServiceUnavailable):  # a store's or bus's server is away
        return EXIT_SERVICE
    if isinstance(exc, (ValidationError, CapabilityError, HandlerError, StoreError)):
        return EXIT_INPUT
    if isinstance(exc, RemoteError):  # a server refused (4xx: the request) or is away
        return EXIT_INPUT if 400 <= exc.status < 500 else EXIT_SERVICE
    return EXIT_FAILED


def report_error(exc: PodiumError, json_out: bool = False) -> int:
    """``error: <message>`` on stderr (and the error as JSON on stdout with ``--json``)."""
    from rich.text import Text

    line = Text("error: ", style="bold red")
    line.append(exc.message)
    console(stderr=True).print(line, soft_wrap=True)
    if json_out:
        print_json(exc.to_dict())
    return exit_code_for(exc)


@contextmanager
def user_errors(json_out: bool = False) -> Iterator[None]:
    """Turn a `PodiumError` into ``error: ...`` and its exit code, with no traceback (and
    Ctrl-C into exit 130)."""
    from ..errors import PodiumError, PodiumInternalError

    try:
        yield
    except PodiumInternalError:
        raise  # a bug: the traceback is what a bug report needs
    except PodiumError as exc:
        raise typer.Exit(report_error(exc, json_out)) from None
    except KeyboardInterrupt:  # Ctrl-C while loading a file: nothing ran
        say("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def print_json(doc: Any) -> None:
    import json

    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(doc, indent=indent) + "\n")  # ASCII: any locale can print it
    sys.stdout.flush()


def leave(code: int) -> None:
    """Exit at once, without waiting for threads: Python cannot stop a sync handler that is
    still running in a thread, and an interrupted run should not wait for it."""
    import os

    console(stderr=True).show_cursor(True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


STYLES = {
    "completed": "green",
    "failed": "red",
    "partial": "yellow",
    "skipped": "bright_black",
    "cancelled": "magenta",
    "budget_exceeded": "red",
    "running": "cyan",
    "retrying": "yellow",
}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0.0005:
        return "<1ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, sec = divmod(seconds, 60)
    return f"{minutes:.0f}m{sec:02.0f}s"


def pick_rows(tasks: dict[str, TaskResult], limit: int) -> list[TaskResult]:
    """Every task when there are few; else failed and cancelled ones first, then the rest,
    shown in workflow order."""
    if len(tasks) <= limit:
        return list(tasks.values())
    chosen: list[tuple[int, TaskResult]] = []
    others: list[tuple[int, TaskResult]] = []
    for i, rec in enumerate(tasks.values()):
        if rec.status in ("failed", "cancelled"):
            chosen.append((i, rec))
            if len(chosen) == limit:
                break
        elif len(others) < limit:
            others.append((i, rec))
    chosen.extend(others[: limit - len(chosen)])
    chosen.sort(key=lambda pair: pair[0])
    return [rec for _, rec in chosen]


class Column:
    """A column of a table: ``kind`` is ``"id"`` (ids and names: never cut or wrapped),
    ``"fixed"`` (short values such as a status or a number: never wrapped) or ``"text"``
    (free text such as an error: wrapped on a terminal, whatever room is left)."""

    __slots__ = ("kind", "name", "right")

    def __init__(self, name: str, kind: str = "fixed", *, right: bool = False) -> None:
        self.name = name
        self.kind = kind
        self.right = right


def table(columns: list[Column], rows: list[list[Any]], *, stderr: bool = False) -> None:
    """Print rows (cells are strings or rich ``Text``) as a table.

    On a terminal: a table that fits the window. Ids and names are never cut or wrapped:
    free text wraps, and short columns are cut with an ellipsis (their headers first); when
    even that does not fit, the plain form below is used.
    Elsewhere (a pipe, a file): one record per line, columns padded and separated by two
    spaces, no colour and no trailing spaces, for grep, cut and awk.
    """
    out = console(stderr)
    plain = [[_plain(c) for c in row] for row in rows]
    widths = [max([len(col.name)] + [len(r[i]) for r in plain]) for i, col in enumerate(columns)]
    values = [max([3] + [len(r[i]) for r in plain]) for i in range(len(columns))]
    fitted = _fit(columns, widths, values, out.width) if out.is_terminal else None
    if fitted is None:
        lines = [_plain_line(columns, widths, [c.name for c in columns])]
        lines += [_plain_line(columns, widths, r) for r in plain]
        target = sys.stderr if stderr else sys.stdout
        target.write("\n".join(lines) + "\n")
        target.flush()
        return
    _draw(out, columns, fitted, rows, plain)


def _draw(
    out: Console, columns: list[Column], widths: list[int], rows: list[list[Any]], plain: Any
) -> None:
    """The terminal form: a bold header, a rule, then each row; free text wraps within its
    column, short columns are cut with an ellipsis, ids are whole."""
    import textwrap

    from rich.text import Text

    gap = " " * _GAP
    names = [_pad(_cut(c.name, w), w, c.right) for c, w in zip(columns, widths, strict=True)]
    header = Text(gap.join(names))
    header.stylize("bold")
    header.rstrip()
    out.print(header, soft_wrap=True)
    out.print("─" * (sum(widths) + _GAP * (len(widths) - 1)), soft_wrap=True, highlight=False)
    for row, texts in zip(rows, plain, strict=True):
        cells: list[list[Text]] = []
        for col, w, cell, text in zip(columns, widths, row, texts, strict=True):
            style = cell.style if isinstance(cell, Text) else ""
            if col.kind == "text":
                parts = textwrap.wrap(text, w, break_long_words=True) or [""]
            else:
                parts = [_cut(text, w)]
            cells.append([Text(_pad(p, w, col.right), style=style) for p in parts])
        for k in range(max(len(c) for c in cells)):
            line = Text(gap).join(
                c[k] if k < len(c) else Text(" " * w) for c, w in zip(cells, widths, strict=True)
            )
            line.rstrip()
            out.print(line, soft_wrap=True)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pad(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


_GAP = 2  # rich's SIMPLE_HEAD box without edge padding puts 2 spaces between columns
_MIN_TEXT = 12


def _fit(
    columns: list[Column], widths: list[int], values: list[int], room: int
) -> list[int] | None:
    """Column widths that fit ``room`` without touching id columns, or None. Short columns
    are first narrowed to their widest value (cutting a long header), then cut further."""
    fitted = list(widths)
    room -= _GAP * (len(columns) - 1)
    texts = [i for i, c in enumerate(columns) if c.kind == "text"]
    for i in texts:
        fitted[i] = min(widths[i], _MIN_TEXT)
    over = sum(fitted) - room
    short = sorted(
        (i for i, c in enumerate(columns) if c.kind == "fixed"), key=lambda i: -widths[i]
    )
    for floor in (lambda i: values[i], lambda i: 3):
        for i in short:
            if over <= 0:
                break
            cut = min(over, fitted[i] - floor(i))
            if cut > 0:
                fitted[i] -= cut
                over -= cut
    if over > 0:
        return None
    for i in texts:  # free text takes what is left
        extra = min(widths[i] - fitted[i], -over)
        fitted[i] += extra
        over += extra
    return fitted


def _plain(cell: Any) -> str:
    text = cell.plain if hasattr(cell, "plain") else str(cell)
    return " ".join(text.split()) if "\n" in text else text


def _plain_line(columns: list[Column], widths: list[int], cells: list[str]) -> str:
    parts = []
    for col, w, cell in zip(columns, widths, cells, strict=True):
        parts.append(cell.rjust(w) if col.right else cell.ljust(w))
    return "  ".join(parts).rstrip()


def summary(result: RunResult, limit: int = SUMMARY_ROWS) -> None:
    """The summary table on stdout: task, agent, status, attempts, duration (and errors)."""
    from rich.text import Text

    rows = pick_rows(result.tasks, limit)
    with_errors = any(rec.error for rec in rows)
    with_usage = any(getattr(rec, "usage", None) for rec in rows)
    columns = [
        Column("task", "id"),
        Column("agent", "id"),
        Column("status"),
        Column("attempts", right=True),
        Column("duration", right=True),
    ]
    if with_usage:
        columns += [Column("tokens", right=True), Column("cost", right=True)]
    if with_errors:
        columns.append(Column("error", "text"))
    cells = []
    for rec in rows:
        status = str(rec.status)
        row: list[Any] = [
            Text(rec.id),
            Text(rec.agent or "-"),
            Text(status, style=STYLES.get(status, "")),
            str(rec.attempts),
            duration(rec.duration),
        ]
        if with_usage:
            usage = getattr(rec, "usage", None) or {}
            row.append(f"{usage['total_tokens']:,}" if usage else "-")
            row.append(money(usage["cost"]) if usage else "-")
        if with_errors:
            row.append(Text((rec.error or "").strip()))
        cells.append(row)
    table(columns, cells)
    more = len(result.tasks) - len(rows)
    if more > 0:
        say(f"... {plural(more, 'more task')} (use --json to see every task)", stderr=False)
    failure_details(list(result.tasks.values()))
    for line in usage_lines(getattr(result, "stats", None) or {}):
        say(line, stderr=False)


FAILURE_DETAILS = 3  # failed tasks whose traceback's last frames the summary shows
LOG_TAIL = 5  # and their last log lines


def failure_details(tasks: list[Any], limit: int = FAILURE_DETAILS) -> None:
    """Under the summary: why the first failed tasks failed (the last frames of their
    traceback and the last lines they wrote), on stdout."""
    from rich.text import Text

    from ..engine.tracebacks import last_frames

    failed = [t for t in tasks if getattr(t, "traceback", None) or _failed_with_logs(t)]
    out = console()
    for t in failed[:limit]:
        out.print(Text(f"\n{t.id} failed: {t.error}", style="red"), soft_wrap=True)
        tb = getattr(t, "traceback", None)
        if tb:
            out.print(Text(last_frames(tb)), soft_wrap=True, highlight=False)
        logs = getattr(t, "logs", None) or []
        if logs:
            out.print(Text(f"  last lines it wrote (podium logs RUN --task {t.id}):"))
            for _, attempt, stream, text in logs[-LOG_TAIL:]:
                out.print(Text(f"    #{attempt} {stream}: {text}".rstrip()), soft_wrap=True)
    if len(failed) > limit:
        say(f"... {plural(len(failed) - limit, 'more failure')} (podium status RUN --task ID)")


def task_detail(doc: dict[str, Any], tid: str, json_out: bool) -> None:
    """One task of a run document (``podium status RUN --task ID``): its state, error, whole
    traceback and every line it wrote. An unknown id is an error (exit 2)."""
    from rich.text import Text

    from .._utils.text import did_you_mean
    from ..errors import ValidationError

    tasks = doc.get("tasks") or {}
    if tid not in tasks:
        with user_errors(json_out):
            raise ValidationError(
                f"run {doc.get('run_id')} has no task {tid!r}.{did_you_mean(tid, tasks)}",
                field="task",
            )
    t = tasks[tid]
    if json_out:
        print_json({"run_id": doc.get("run_id"), "task": tid, **t})
        return
    out = console()
    status = str(t.get("status"))
    head = Text(f"{tid}  ")
    head.append(status, style=f"bold {STYLES.get(status, '')}")
    head.append(f"  agent {t.get('agent') or '-'}  attempts {t.get('attempts')}")
    out.print(head, soft_wrap=True)
    for name in ("started_at", "finished_at"):
        if t.get(name):
            out.print(Text(f"{name.replace('_', ' ')}: {t[name]}"), soft_wrap=True)
    if t.get("error"):
        out.print(Text(f"error: {t['error']}", style="red"), soft_wrap=True)
    if t.get("traceback"):
        out.print(Text(t["traceback"].rstrip("\n")), soft_wrap=True, highlight=False)
    if t.get("result") is not None:
        import json

        out.print(Text("result: " + json.dumps(t["result"], default=str)), soft_wrap=True)
    logs = t.get("logs") or []
    if logs:
        out.print(Text(f"logs ({len(logs)} lines):"))
        for line in logs:
            when = (line.get("at") or "-").replace("T", " ")[:23]
            text = f"  {when}  #{line.get('attempt')} {line.get('stream')}: {line.get('text')}"
            out.print(Text(text.rstrip()), soft_wrap=True, highlight=False)


def _failed_with_logs(t: Any) -> bool:
    return str(t.status) == "failed" and bool(getattr(t, "logs", None))


def money(cost: float) -> str:
    return f"{cost:.4f}" if cost >= 0.01 or not cost else f"{cost:.6f}"


def usage_lines(stats: dict[str, Any]) -> list[str]:
    """What a run spent on model calls, its budget, and why the budget stopped it."""
    lines = []
    u = stats.get("usage")
    if u:
        lines.append(
            f"model calls: {u['calls']:,} · tokens: {u['total_tokens']:,} "
            f"({u['prompt_tokens']:,} in, {u['completion_tokens']:,} out) · "
            f"cost: {money(u['cost'])} · time in calls: {duration(u['latency'])}"
        )
    b = stats.get("budget")
    if b:
        parts = []
        if b.get("max_cost") is not None:
            parts.append(f"cost {money(b['spent_cost'])} of {money(b['max_cost'])}")
        if b.get("max_tokens") is not None:
            parts.append(f"tokens {b['spent_tokens']:,} of {b['max_tokens']:,}")
        lines.append("budget: " + ", ".join(parts))
    if stats.get("stopped_by"):
        lines.append(f"stopped: {stats['stopped_by']}")
    lines += wait_lines(stats)
    return lines


def wait_lines(stats: dict[str, Any]) -> list[str]:
    """Why ready tasks wait now, and what they waited for (resources, keys, rate limits)."""
    lines = []
    for label, key in (("waiting", "waiting_for"), ("waited", "waited_for")):
        got = stats.get(key)
        if got:
            shown = "; ".join(f"{n} for {why}" for why, n in sorted(got.items()))
            lines.append(f"{label}: {shown}")
    return lines


def finished_line(run: Run, result: RunResult, status: str, *, stderr: bool) -> None:
    from rich.text import Text

    from .progress import describe_counts

    seconds = result.duration if result.duration is not None else None
    took = f" in {duration(seconds)}" if seconds is not None else ""
    line = Text(f"run {result.run_id} ")
    line.append(status, style=f"bold {STYLES.get(status, '')}")
    line.append(f"{took}: {describe_counts(run.counts())}")
    console(stderr).print(line, soft_wrap=True)


def check_out(out: Path) -> None:
    """A ValidationError unless the folder ``--out`` names exists."""
    from ..errors import ValidationError

    if not out.parent.is_dir():
        raise ValidationError(
            f"--out {out}: folder {out.parent} does not exist. Create it or pick another path.",
            field="out",
        )


def write_report(out: Path, text: str) -> None:
    """Write a report to ``--out`` and say so; a ValidationError when it cannot be written."""
    from ..errors import ValidationError

    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            f"--out {out}: cannot write the report: {exc.strerror}.", field="out"
        ) from None
    say(f"report written to {out}")
