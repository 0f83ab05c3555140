"""Reading workflow files: YAML or JSON text to a mapping, with errors that name the file and
line. Repeated keys are errors, like unknown fields: a second ``input:`` must not silently win.

A file is data from anywhere, so reading it costs bounded time and memory whatever it says
(the limits are in `podium._utils.limits` and docs/safety.md): nesting deeper than
``MAX_DEPTH`` levels, YAML aliases that would add more than ``MAX_ALIAS_NODES`` values, and
integers of more than ``MAX_INT_DIGITS`` digits are refused at the line that has them.

YAML is built here from the parser's events (libyaml's when it is installed, PyYAML's own
otherwise) rather than by PyYAML's composer and constructor: libyaml's composer recurses in C
(a file nested 50,000 levels deep crashes the interpreter), the pure-Python one raises
RecursionError, and both expand aliases without counting. One loop over the events keeps the
line of every value, checks the limits as it goes, and is several times faster than
``yaml.load`` with either loader (100,000 tasks in a few seconds).
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from .._utils.limits import MAX_ALIAS_NODES, MAX_DEPTH, MAX_INT_DIGITS, big_int, excerpt
from ..errors import ValidationError

try:  # libyaml's parser, when PyYAML was built with it
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

__all__ = ["FAST_YAML", "parse_json", "parse_yaml"]

FAST_YAML = _Parser.__name__ == "CParser"

_T = "tag:yaml.org,2002:"
_RESOLVERS = Resolver.yaml_implicit_resolvers
_BOOL = SafeConstructor.bool_values
_MERGE = object()  # the value of a ``<<`` key
_TIMESTAMPS = SafeConstructor()


class _Refused(Exception):
    def __init__(self, problem: str, mark: Any, *, syntax: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.mark = mark
        self.syntax = syntax


def parse_yaml(text: str, src: str) -> Any:
    """The value of a YAML document (one only), with the limits above checked."""
    try:
        return _build(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or excerpt(str(exc), 200)
        raise ValidationError(f"{_at(src, mark)}: invalid YAML: {problem}.", file=src) from None
    except _Refused as exc:
        kind = "invalid YAML: " if exc.syntax else ""
        raise ValidationError(f"{_at(src, exc.mark)}: {kind}{exc.problem}.", file=src) from None


def _at(src: str, mark: Any) -> str:
    return f"{src}:{mark.line + 1}:{mark.column + 1}" if mark is not None else src


class _Frame:
    __slots__ = (
        "anchor",
        "as_set",
        "explicit",
        "is_map",
        "key",
        "key_mark",
        "mark",
        "merges",
        "start",
        "value",
    )

    def __init__(self, value: Any, is_map: bool, anchor: str | None, start: int, mark: Any):
        self.value = value
        self.is_map = is_map
        self.anchor = anchor
        self.start = start  # values built before this one: its size when it ends
        self.mark = mark
        self.key: Any = _NONE
        self.key_mark: Any = None
        self.merges: list[Any] | None = None
        self.as_set = False


_NONE = object()


def _build(text: str) -> Any:
    parser = _Parser(text)
    try:
        return _events_to_value(parser)
    finally:
        parser.dispose()


def _events_to_value(parser: Any) -> Any:
    get = parser.get_event
    get()  # StreamStartEvent
    event = get()
    if isinstance(event, StreamEndEvent):
        return None
    if not isinstance(event, DocumentStartEvent):  # pragma: no cover - the parser's contract
        raise _Refused("expected a document", event.start_mark, syntax=True)
    anchors: dict[str, tuple[Any, int]] = {}
    stack: list[_Frame] = []
    root: Any = _NONE
    built = 0  # values in the document with aliases expanded
    aliased = 0  # of which added by aliases
    plain: dict[str, Any] = {}  # plain scalars seen before: keys and names repeat a lot
    while True:
        event = get()
        cls = type(event)
        if cls is ScalarEvent:
            if event.tag is None and event.implicit[0] and len(event.value) < 64:
                text = event.value
                value = plain.get(text, _NONE)
                if value is _NONE:
                    value = _scalar(event)
                    if len(plain) < 100_000:
                        plain[text] = value
            else:
                value = _scalar(event)
            built += 1
            if event.anchor is not None:
                anchors[event.anchor] = (value, 1)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            is_map = cls is MappingStartEvent
            tag = event.tag
            as_set = is_map and tag == _T + "set"  # a set: not JSON, which validation says
            if (
                tag is not None
                and tag != "!"
                and tag != (_T + ("map" if is_map else "seq"))
                and not as_set
            ):
                raise _Refused(_tag_problem(tag), event.start_mark, syntax=True)
            if len(stack) >= MAX_DEPTH:
                raise _Refused(
                    f"nested deeper than {MAX_DEPTH} levels, podium's limit for a workflow file;"
                    " flatten the value or pass a reference to it (a file name, a URL)",
                    event.start_mark,
                )
            built += 1
            frame = _Frame({} if is_map else [], is_map, event.anchor, built, event.start_mark)
            frame.as_set = as_set
            stack.append(frame)
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            frame = stack.pop()
            value = frame.value
            if frame.merges is not None:
                value = _merge(frame, value)
            if frame.as_set:
                value = set(value)
            if frame.anchor is not None:
                anchors[frame.anchor] = (value, built - frame.start + 1)
        elif cls is AliasEvent:
            found = anchors.get(event.anchor)
            if found is None:
                raise _Refused(
                    f"found undefined alias {excerpt(event.anchor)} (an alias can only name an "
                    "anchor given before it, outside the value itself)",
                    event.start_mark,
                    syntax=True,
                )
            value, size = found
            built += size
            aliased += size
            if aliased > MAX_ALIAS_NODES:
                raise _Refused(
                    f"aliases (*name) here expand to more than {MAX_ALIAS_NODES:,} values, "
                    "podium's limit; write the values out or use fewer aliases",
                    event.start_mark,
                )
        elif cls is DocumentEndEvent:
            nxt = get()
            if not isinstance(nxt, StreamEndEvent):
                raise _Refused(
                    "expected a single document in the file, but found another",
                    nxt.start_mark,
                    syntax=True,
                )
            return root
        else:  # pragma: no cover - the parser's contract
            raise _Refused(f"unexpected {cls.__name__}", event.start_mark, syntax=True)
        # hand the finished value to its parent
        if not stack:
            root = value
            continue
        parent = stack[-1]
        if not parent.is_map:
            parent.value.append(value)
        elif parent.key is _NONE:
            if value is _MERGE:
                parent.key = _MERGE
            else:
                try:
                    hash(value)
                except TypeError:
                    raise _Refused(
                        "a mapping key must be a scalar (text, a number), not a "
                        f"{'mapping' if isinstance(value, dict) else 'list'}",
                        event.start_mark,
                        syntax=True,
                    ) from None
                if value in parent.value:
                    raise _Refused(
                        f"key {excerpt(value)} appears twice in the mapping that starts on "
                        f"line {parent.mark.line + 1}",
                        event.start_mark,
                        syntax=True,
                    )
                parent.key = value
            parent.key_mark = event.start_mark
        else:
            if parent.key is _MERGE:
                if parent.merges is None:
                    parent.merges = []
                parent.merges.append((value, parent.key_mark))
            else:
                parent.value[parent.key] = value
            parent.key = _NONE


def _merge(frame: _Frame, explicit: dict[Any, Any]) -> dict[Any, Any]:
    """A mapping with ``<<: *base`` (or ``<<: [*a, *b]``): the keys of the merged mappings
    (earlier ones first) under its own keys, as YAML's merge key says."""
    out: dict[Any, Any] = {}
    for value, mark in frame.merges or ():
        maps = value if isinstance(value, list) else [value]
        for m in reversed(maps):
            if not isinstance(m, dict):
                raise _Refused(
                    "a merge key (<<) takes a mapping or a list of mappings", mark, syntax=True
                )
        for m in reversed(maps):
            out.update(m)
    out.update(explicit)
    return out


def _scalar(event: Any) -> Any:
    value: str = event.value
    tag = event.tag
    if tag is None or tag == "!":
        if not event.implicit[0]:
            return value  # quoted, or tagged '!': text
        resolvers = _RESOLVERS.get(value[0] if value else "")
        if not resolvers:
            return value
        for tag, regexp in resolvers:  # noqa: B007 - the loop picks the tag
            if regexp.match(value):
                break
        else:
            return value
    try:
        return _construct(tag, value, event)
    except (ValueError, KeyError):
        raise _Refused(
            f"{excerpt(value)} is not a valid {tag.rpartition(':')[2]}",
            event.start_mark,
            syntax=True,
        ) from None


def _construct(tag: str, value: str, event: Any) -> Any:
    if tag == _T + "str":
        return value
    if tag == _T + "int":
        return _int(value, event)
    if tag == _T + "null":
        return None
    if tag == _T + "bool":
        return _BOOL[value.lower()]
    if tag == _T + "float":
        return _float(value)
    if tag == _T + "merge":
        return _MERGE
    if tag == _T + "timestamp":
        return _TIMESTAMPS.construct_yaml_timestamp(ScalarNode(tag, value))
    if tag == _T + "binary":  # bytes: not JSON, which validation says
        return _TIMESTAMPS.construct_yaml_binary(ScalarNode(tag, value))
    raise _Refused(_tag_problem(tag), event.start_mark, syntax=True)


def _tag_problem(tag: str) -> str:
    return f"could not determine a constructor for the tag {excerpt(tag)}"


def _int(text: str, event: Any) -> int:
    # YAML 1.1's integers, as PyYAML's SafeConstructor reads them
    value = text.replace("_", "")
    if len(value) > 4 * MAX_INT_DIGITS:
        raise _too_big(event)
    sign = -1 if value[0] == "-" else 1
    if value[0] in "+-":
        value = value[1:]
    if value == "0":
        return 0
    try:
        if value.startswith("0b"):
            out = sign * int(value[2:], 2)
        elif value.startswith("0x"):
            out = sign * int(value[2:], 16)
        elif value[0] == "0":
            out = sign * int(value, 8)
        elif ":" in value:
            out = 0
            for part in value.split(":"):
                out = out * 60 + int(part)
                if big_int(out):
                    raise _too_big(event)
            out *= sign
        else:
            out = sign * int(value)
    except ValueError:
        if len(value) > MAX_INT_DIGITS:
            raise _too_big(event) from None
        raise
    if big_int(out):
        raise _too_big(event)
    return out


def _too_big(event: Any) -> _Refused:
    return _Refused(
        f"an integer with more than {MAX_INT_DIGITS:,} digits, podium's limit; "
        "write it as text (in quotes) if it is an identifier",
        event.start_mark,
    )


def _float(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = -1.0 if value[0] == "-" else 1.0
    if value[0] in "+-":
        value = value[1:]
    if value == ".inf":
        return sign * float("inf")
    if value == ".nan":
        return float("nan")
    if ":" in value:
        out = 0.0
        for part in value.split(":"):
            out = out * 60 + float(part)
        return sign * out
    return sign * float(value)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return out


class _Repeated(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _BigInt(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(text[:40])
        self.text = text


def _json_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise _BigInt(text)
    return int(text)


def parse_json(text: str, src: str) -> Any:
    """The value of a JSON document, with the limits above checked."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{src}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}.", file=src
        ) from None
    except _Repeated as exc:
        raise ValidationError(
            f"{src}: invalid JSON: key {excerpt(exc.key)} appears twice in one object.", file=src
        ) from None
    except _BigInt as exc:
        pos = text.find(exc.text)
        line = text.count("\n", 0, pos) + 1
        col = pos - text.rfind("\n", 0, pos)
        raise ValidationError(
            f"{src}:{line}:{col}: an integer with more than {MAX_INT_DIGITS:,} digits, podium's "
            "limit; write it as text (in quotes) if it is an identifier.",
            file=src,
        ) from None
    except RecursionError:
        raise ValidationError(_deep(src, None), file=src) from None
    path = too_deep(data)
    if path is not None:
        raise ValidationError(_deep(src, path), file=src)
    return data


def _deep(src: str, path: str | None) -> str:
    at = f" at {path}" if path else ""
    return (
        f"{src}: a value{at} is nested deeper than {MAX_DEPTH} levels, podium's limit for a "
        "workflow file; flatten it or pass a reference to it (a file name, a URL)."
    )


def too_deep(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """Where ``value`` (JSON-like) goes deeper than ``limit`` levels of lists and mappings, as
    a path (``tasks[3].input.a``), or None. Iterative, so any depth is safe to check."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        v, depth = pop()
        if depth > limit:
            return _path_to(value, limit)
        t = type(v)
        if t is dict:
            for x in v.values():
                tx = type(x)
                if tx is dict or tx is list:
                    push((x, depth + 1))
        elif t is list:
            for x in v:
                tx = type(x)
                if tx is dict or tx is list:
                    push((x, depth + 1))
    return None


def _path_to(value: Any, limit: int) -> str:
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        v, depth, path = stack.pop()
        if depth > limit:
            text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            return text.lstrip(".")[:80]
        if isinstance(v, dict):
            stack.extend(
                (x, depth + 1, (*path, k)) for k, x in v.items() if isinstance(x, dict | list)
            )
        elif isinstance(v, list):
            stack.extend(
                (x, depth + 1, (*path, i)) for i, x in enumerate(v) if isinstance(x, dict | list)
            )
    return ""
