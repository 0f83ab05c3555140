"""Action blocks: how an LLM agent asks podium to do something between its turns.

An answer may hold blocks like::

    ACTION: DELEGATE
    AGENT_TYPE: knowledge
    TASK: Research the best Python async libraries for web scraping
    ---END---

Each block starts with an ``ACTION: <KIND>`` line and ends at a ``---END---`` line (or at the
next ``ACTION:`` line, or the end of the answer). Its fields are ``KEY: value`` lines; a value
runs on over the following lines until the next field of that action. The kinds and their
fields:

    DELEGATE  AGENT_TYPE (or CAPABILITY, or AGENT: a name), TASK, INPUT (JSON, optional)
    MESSAGE   TO (an agent's name) or TOPIC, CONTENT
    TOOL      NAME, ARGS (a JSON object, optional)
    FINAL     ANSWER (or the block's text)

An answer without any block is a final answer as it stands. Native tool calls of the protocol
(``delegate``, ``send_message``, ``final_answer`` and the user's tools) become the same
actions (`from_tool_call`). A block that cannot be understood becomes an action with an
``error``: the agent is told what was wrong in its next turn, the run goes on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Action", "from_tool_call", "parse_actions"]

# action -> its fields; the first of each tuple is required (any one of the group for the
# alternatives DELEGATE and MESSAGE take)
FIELDS: dict[str, tuple[str, ...]] = {
    "DELEGATE": ("AGENT_TYPE", "CAPABILITY", "AGENT", "TASK", "INPUT"),
    "MESSAGE": ("TO", "TOPIC", "CONTENT"),
    "TOOL": ("NAME", "ARGS"),
    "FINAL": ("ANSWER",),
}
KINDS = tuple(FIELDS)

_ACTION = re.compile(r"^[ \t>*_`#]*ACTION[ \t]*:[ \t]*([A-Za-z_]+)[ \t*_`]*$", re.M)
_END = re.compile(r"^[ \t]*-{3,}[ \t]*END[ \t]*-{3,}[ \t]*$", re.M | re.I)
_FIELD = re.compile(r"^[ \t*_]*([A-Z][A-Z_]*)[ \t*_]*:[ \t]?(.*)$")


@dataclass(slots=True)
class Action:
    """One thing the agent asked for: ``kind`` (``DELEGATE``, ``MESSAGE``, ``TOOL``,
    ``FINAL``), its ``fields``, the protocol's ``call_id`` for a native tool call, and an
    ``error`` when it is malformed."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None
    error: str | None = None
    text: str = ""  # the block as written, for error messages

    def get(self, key: str, default: Any = None) -> Any:
        value = self.fields.get(key)
        return default if value in (None, "") else value


def parse_actions(text: str) -> list[Action]:
    """The action blocks in ``text``, in order (an empty list when there are none)."""
    starts = list(_ACTION.finditer(text))
    out = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        stop = _END.search(text, m.end(), end)
        body = text[m.end() : stop.start() if stop else end]
        block = text[m.start() : stop.end() if stop else end].strip()
        out.append(_block(m.group(1).upper(), body, block))
    return out


def _block(kind: str, body: str, block: str) -> Action:
    if kind not in FIELDS:
        return Action(
            kind,
            error=f"unknown action {kind!r}: use one of {', '.join(KINDS)}",
            text=block,
        )
    known = FIELDS[kind]
    fields: dict[str, Any] = {}
    current: str | None = None
    loose: list[str] = []
    for line in body.strip("\n").splitlines():
        m = _FIELD.match(line)
        if m and m.group(1) in known:
            current = m.group(1)
            fields[current] = m.group(2)
        elif current is not None:
            fields[current] += "\n" + line
        else:
            loose.append(line)
    fields = {k: v.strip() for k, v in fields.items()}
    action = Action(kind, fields, text=block)
    if kind == "FINAL" and not fields.get("ANSWER"):
        rest = "\n".join(loose).strip()
        if rest:
            fields["ANSWER"] = rest
    action.error = _check(action)
    return action


def _json_field(action: Action, key: str, *, obj: bool) -> str | None:
    """Parse field ``key`` as JSON in place (a JSON object when ``obj``); why not, or None."""
    raw = action.fields.get(key)
    if raw is None or raw == "":
        action.fields[key] = None
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(_unfence(raw))
        except json.JSONDecodeError as exc:
            return f"{key} is not valid JSON: {exc.msg} (character {exc.pos})"
    if obj and not isinstance(raw, dict):
        return f'{key} must be a JSON object like {{"query": "..."}}'
    action.fields[key] = raw
    return None


def _check(a: Action) -> str | None:
    f = a.fields
    if a.kind == "DELEGATE":
        if not (f.get("AGENT_TYPE") or f.get("CAPABILITY") or f.get("AGENT")):
            return "DELEGATE needs AGENT_TYPE: (or CAPABILITY:, or AGENT: a name)"
        if not f.get("TASK") and not f.get("INPUT"):
            return "DELEGATE needs TASK: what the other agent should do"
        return _json_field(a, "INPUT", obj=False)
    if a.kind == "MESSAGE":
        if not (f.get("TO") or f.get("TOPIC")):
            return "MESSAGE needs TO: (an agent's name) or TOPIC:"
        if not f.get("CONTENT"):
            return "MESSAGE needs CONTENT:"
        return None
    if a.kind == "TOOL":
        if not f.get("NAME"):
            return "TOOL needs NAME: the tool to call"
        return _json_field(a, "ARGS", obj=True)
    if not f.get("ANSWER"):
        return "FINAL needs ANSWER: the answer"
    return None


def _unfence(raw: str) -> str:
    s = raw.strip()
    if s.startswith("```"):
        s = s.split("\n", 1)[1] if "\n" in s else ""
        s = s.rsplit("```", 1)[0]
    return s.strip()


# -- native tool calls ----------------------------------------------------------------------

# the protocol's function name -> (action kind, {argument: field})
NATIVE: dict[str, tuple[str, dict[str, str]]] = {
    "delegate": (
        "DELEGATE",
        {"agent_type": "AGENT_TYPE", "agent": "AGENT", "task": "TASK", "input": "INPUT"},
    ),
    "send_message": ("MESSAGE", {"to": "TO", "topic": "TOPIC", "content": "CONTENT"}),
    "final_answer": ("FINAL", {"answer": "ANSWER"}),
}


def from_tool_call(call_id: str, name: str, arguments: str) -> Action:
    """The action a native tool call stands for."""
    shown = f"{name}({arguments[:200]})"
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        return Action(
            "TOOL",
            {"NAME": name},
            call_id=call_id,
            error=f"the arguments of {name} are not valid JSON: {exc.msg}",
            text=shown,
        )
    if not isinstance(args, dict):
        return Action(
            "TOOL",
            {"NAME": name},
            call_id=call_id,
            error=f"the arguments of {name} must be a JSON object",
            text=shown,
        )
    native = NATIVE.get(name)
    if native is None:
        action = Action("TOOL", {"NAME": name, "ARGS": args}, call_id=call_id, text=shown)
    else:
        kind, names = native
        fields = {names[k]: v for k, v in args.items() if k in names}
        for k in ("TASK", "ANSWER", "CONTENT"):
            if k in fields and not isinstance(fields[k], str):
                fields[k] = json.dumps(fields[k])
        action = Action(kind, fields, call_id=call_id, text=shown)
    action.error = _check(action)
    return action
