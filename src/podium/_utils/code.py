"""Code named by data: ``"module:attr"`` references in workflow files (handlers, pattern
functions). The one place where a file makes podium import something, so the rules about
where that code may come from live here (docs/safety.md):

- a workflow file may name code from its own folder (the folder of the file; the current
  folder for a workflow given as data), from the package of its handlers, or from a module on
  the allow-list: ``--allow-module`` on the command line, ``PODIUM_ALLOW_MODULES`` (names
  separated by commas), ``allow_modules=`` in Python. ``handler: os:system`` is refused
  before anything is imported.
- a workflow that came over the network (``podium serve``) has no folder: only the server's
  ``--allow-module`` list (`only_modules`).

A module from the workflow's folder is loaded from that folder by its file, and the folder is
appended to ``sys.path`` (so the module's own imports of its neighbours work), never put
first: a ``colorsys.py`` next to a workflow must not replace the standard library's when
podium, or anything it imports, asks for ``colorsys``. A module in the folder that has the
name of an installed one is refused with a message that says to rename it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..errors import HandlerError, ValidationError
from .limits import excerpt
from .text import did_you_mean

__all__ = [
    "ENV_ALLOW",
    "allow_modules",
    "allowed_modules",
    "handler_packages",
    "import_ref",
    "only_modules",
    "where",
]

ENV_ALLOW = "PODIUM_ALLOW_MODULES"
_MAX_REF = 500  # characters of a "module:function" reference

# None: the local rule (the workflow's folder, its handlers' package, the allow-list); a set:
# only these modules and their submodules (a workflow that came over the network)
_ONLY: ContextVar[frozenset[str] | None] = ContextVar("podium_only_modules", default=None)
# modules allowed on top of the local rule: allow_modules() and the handlers' packages
_EXTRA: ContextVar[frozenset[str]] = ContextVar("podium_allow_modules", default=frozenset())
_PROCESS: set[str] = set()  # --allow-module: for the whole process
# (folder, module) pairs that passed the rule: a pattern that resolves its function again
# while the run goes on needs no allow-list in scope
_APPROVED: set[tuple[str, str]] = set()
# modules loaded from a workflow's folder, by (folder, top-level name)
_LOADED: dict[tuple[str, str], Any] = {}


@contextmanager
def only_modules(allowed: Iterable[str]) -> Iterator[None]:
    """Within the block, `import_ref` refuses modules outside ``allowed`` (and their
    submodules) with a `ValidationError` that names the field: a workflow sent over the
    network may name no code of its own."""
    token = _ONLY.set(frozenset(allowed))
    try:
        yield
    finally:
        _ONLY.reset(token)


@contextmanager
def allow_modules(modules: Iterable[str] | None) -> Iterator[None]:
    """Within the block, workflow files may also name code from ``modules`` (and their
    submodules), wherever they are installed."""
    extra = frozenset(m for m in (modules or ()) if m)
    token = _EXTRA.set(_EXTRA.get() | extra)
    try:
        yield
    finally:
        _EXTRA.reset(token)


handler_packages = allow_modules  # the packages of a workflow's own handlers, while it loads


def allow_for_process(modules: Iterable[str]) -> None:
    """``--allow-module``: allow ``modules`` for the rest of the process."""
    _PROCESS.update(m for m in modules if m)


def allowed_modules() -> frozenset[str]:
    """The allow-list in force here: `allow_modules`, ``--allow-module`` and the
    ``PODIUM_ALLOW_MODULES`` environment variable."""
    env = os.environ.get(ENV_ALLOW, "")
    return _EXTRA.get() | _PROCESS | {m.strip() for m in env.split(",") if m.strip()}


def _listed(module_name: str, names: Iterable[str]) -> bool:
    return any(module_name == m or module_name.startswith(m + ".") for m in names)


def where(file: str | None, task: str | None = None, agent: str | None = None) -> str:
    """The start of a message: ``"flow.yaml: task 'a': "``."""
    out = f"{file}: " if file else ""
    if agent is not None:
        out += f"agent {agent!r}: "
    if task is not None:
        out += f"task {task!r}: "
    return out


def import_ref(
    ref: str,
    *,
    label: str,
    base: Path | None = None,
    file: str | None = None,
    task: str | None = None,
    agent: str | None = None,
    field: str,
    trusted: bool = False,
) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted) under the rules above; ``base`` (the
    workflow's folder) is searched first. ``trusted``: the person typed the reference (a
    command-line option), so the allow-list does not apply. Errors are `HandlerError`s (or a
    `ValidationError` for code the rules refuse) that start with ``label`` (``handler 'm:f'``)
    and name the file, task or agent, and ``field``."""
    if len(ref) > _MAX_REF:  # the label quotes it whole: say so without it
        raise HandlerError(
            f"{where(file, task, agent)}{field} {excerpt(ref)} is too long for a "
            f"'module:function' reference ({len(ref):,} characters).",
            file=file,
            task=task,
            field=field,
        )
    at = where(file, task, agent) + label
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise HandlerError(
            f"{at} must look like 'module:function' or 'module:Class'.",
            file=file,
            task=task,
            field=field,
        )
    only = _ONLY.get()
    if only is not None:
        if not _listed(module_name, only):
            raise ValidationError(
                f"{at}: a workflow sent over the network may not name code to import "
                f"(field {field!r}). Route its tasks to agents registered on the server, or "
                f"start the server with --allow-module {module_name.split('.')[0]}.",
                file=file,
                task=task,
                field=field,
            )
        module = _import(module_name, _Where(at, file, task, field))
    else:
        folder = (base or Path.cwd()).resolve()
        module = _import_local(module_name, folder, _Where(at, file, task, field), trusted)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise HandlerError(
                f"{at}: module {module_name!r} has no {attr!r}.{did_you_mean(part, names)}",
                file=file,
                task=task,
                field=field,
            ) from None
    return obj


class _Where:
    """What an error about one reference says where it is."""

    __slots__ = ("at", "field", "file", "task")

    def __init__(self, at: str, file: str | None, task: str | None, field: str) -> None:
        self.at, self.file, self.task, self.field = at, file, task, field


def _import_local(module_name: str, folder: Path, w: _Where, trusted: bool) -> Any:
    top = module_name.partition(".")[0]
    key = (str(folder), module_name)
    spec = importlib.machinery.PathFinder.find_spec(top, [str(folder)])
    if spec is not None and spec.loader is not None:  # the workflow's own folder
        _append_path(folder)
        module = _load_from_folder(top, folder, spec, w)
        if module_name != top:
            module = _import(module_name, w)
        _APPROVED.add(key)
        return module
    if trusted or key in _APPROVED or _listed(module_name, allowed_modules()):
        _append_path(folder)
        module = _import(module_name, w)
        _APPROVED.add(key)
        return module
    origin = _origin(module_name)
    if origin is None:  # nowhere: say how to provide it
        return _import(module_name, w)
    if _inside(origin, folder):  # a workflow kept inside its own package
        module = _import(module_name, w)
        _APPROVED.add(key)
        return module
    raise ValidationError(
        f"{w.at}: module {module_name!r} is not in the workflow's folder ({folder}) nor in "
        "its handlers' package, and is not allowed: podium runs only code from where you "
        "said. Put the function in a module next to the workflow file, or allow the module "
        f"with --allow-module {top} ({ENV_ALLOW}={top}, or allow_modules=[{top!r}] in "
        "Python).",
        file=w.file,
        task=w.task,
        field=w.field,
    )


def _append_path(folder: Path) -> None:
    # appended, never inserted first: the folder's modules must not shadow installed ones
    # (a package's own folder never goes on sys.path at all: its modules would shadow
    # top-level ones; its handlers are named by their package)
    text = str(folder)
    if text not in sys.path and not (folder / "__init__.py").exists():
        sys.path.append(text)


def _inside(path: str, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def _origin(module_name: str) -> str | None:
    """Where ``module_name`` would be imported from, found without running any module's code
    (parent packages are searched, not imported); None when it is nowhere."""
    found = sys.modules.get(module_name)
    if found is not None:
        return getattr(found, "__file__", None) or "<built-in>"
    parts = module_name.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
        for i in range(1, len(parts)):
            if spec is None:
                return None
            parent = sys.modules.get(".".join(parts[:i]))
            locations = getattr(parent, "__path__", None) or spec.submodule_search_locations
            if not locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(
                ".".join(parts[: i + 1]), list(locations)
            )
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.origin or "<namespace>"


def _load_from_folder(top: str, folder: Path, spec: Any, w: _Where) -> Any:
    """The module ``top`` of ``folder``, loaded from its file once; refused when its name is
    that of a module from elsewhere (it would replace it for everyone)."""
    key = (str(folder), top)
    loaded = _LOADED.get(key)
    if loaded is not None:
        return loaded
    existing = sys.modules.get(top)
    other: str | None = None
    if existing is not None:
        path = getattr(existing, "__file__", None)
        if path and _inside(path, folder):
            _LOADED[key] = existing
            return existing
        from_workflow = any(existing is m for m in _LOADED.values())
    else:
        from_workflow = False
        other = _origin(top)
        if other is not None and _inside(other, folder):
            other = None
    if not from_workflow and (existing is not None or other is not None):
        path = getattr(existing, "__file__", None) if existing is not None else other
        shown = path if path and path[0] != "<" else "the standard library"
        raise HandlerError(
            f"{w.at}: {Path(spec.origin or top).name} next to the workflow file has the name "
            f"of module {top!r} from {shown}; podium will not let it replace that one. "
            "Rename the file (and the reference).",
            file=w.file,
            task=w.task,
            field=w.field,
        )
    if existing is not None:  # the same name in another workflow's folder: this one now
        for name in [n for n in sys.modules if n.startswith(top + ".")]:
            del sys.modules[name]

    def load() -> Any:
        module = importlib.util.module_from_spec(spec)
        sys.modules[top] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if existing is not None:
                sys.modules[top] = existing
            else:
                sys.modules.pop(top, None)
            raise
        return module

    module = _import(top, w, load)
    _LOADED[key] = module
    return module


def _import(module_name: str, w: _Where, load: Any = None) -> Any:
    at, file, task, field = w.at, w.file, w.task, w.field
    try:
        return load() if load is not None else importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing != module_name and not module_name.startswith(missing + "."):
            # the module was found, but one of its own imports failed
            raise HandlerError(
                f"{at}: importing module {module_name!r} failed{_frame(exc)}: "
                f"{type(exc).__name__}: {exc}. Install {missing.split('.')[0]!r} or fix "
                f"the import in {module_name!r}.",
                file=file,
                task=task,
                field=field,
            ) from None
        raise HandlerError(
            f"{at}: cannot import module {exc.name!r}. Put {module_name}.py next to the "
            "workflow file or install the package that provides it.",
            file=file,
            task=task,
            field=field,
        ) from None
    except Exception as exc:
        raise HandlerError(
            f"{at}: importing module {module_name!r} failed{_frame(exc)}: "
            f"{type(exc).__name__}: {exc}. Fix the module so it imports.",
            file=file,
            task=task,
            field=field,
        ) from None


def _frame(exc: BaseException) -> str:
    """Where an import failed: the last frame of ``exc``'s traceback outside importlib, as
    `` at h.py line 3 (import requestz)``; empty when there is none."""
    import traceback

    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<") and "importlib" not in f.filename
    ]
    if not frames:
        return ""
    f = frames[-1]
    code = f" ({f.line.strip()})" if f.line else ""
    return f" at {os.path.basename(f.filename)} line {f.lineno}{code}"
