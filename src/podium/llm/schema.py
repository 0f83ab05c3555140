"""Answers that must be JSON satisfying a schema: find the JSON in an answer, check it, and say
what is wrong so the model can fix it in its next turn."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import HandlerError

__all__ = ["check_answer", "extract_json", "schema_instruction"]

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)


def schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "Answer with one JSON value, and nothing else, that satisfies this JSON schema:\n"
        + json.dumps(schema, indent=2)
    )


def extract_json(text: str) -> Any:
    """The JSON value in an answer: all of it, a fenced block, or the outermost {...}/[...]."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    for open_, close in (("{", "}"), ("[", "]")):
        i, j = text.find(open_), text.rfind(close)
        if 0 <= i < j:
            candidates.append(text[i : j + 1])
    error = None
    for c in candidates:
        try:
            return json.loads(c)
        except json.JSONDecodeError as exc:
            error = error or exc
    raise ValueError(f"the answer is not JSON ({error.msg if error else 'empty'})")


def check_answer(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """``(value, None)`` when ``text`` holds JSON valid under ``schema``, else ``(None, why)``."""
    try:
        value = extract_json(text)
    except ValueError as exc:
        return None, str(exc)
    try:
        import jsonschema
    except ImportError:
        raise HandlerError(
            "an LLM agent with a schema needs the jsonschema package: pip install 'podium[llm]'.",
            field="schema",
        ) from None
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return value, None
    shown = []
    for e in errors[:5]:
        where = "/".join(map(str, e.absolute_path)) or "the answer"
        shown.append(f"at {where}: {e.message[:300]}")
    return None, "; ".join(shown)
