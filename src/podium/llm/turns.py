"""One LLM task's conversation: phases of turns, actions between them, the final answer.

Each turn is one model call. Its answer is read for action blocks (see `actions`) and native
tool calls. No action: the answer is the phase's final answer. Otherwise podium runs the
actions the phase allows (delegated tasks as real tasks of the run, at once; tools; bus
messages), and the next turn starts with their results, or with what was wrong (a malformed
block, an action the phase does not allow, a bound reached). Bounds keep every agent finite:
``max_turns`` turns per phase, ``max_delegations`` delegated tasks per attempt, at most
``max_fanout`` per turn, and delegation chains at most ``max_depth`` deep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import LLMError, TaskFailed
from .actions import Action, from_tool_call, parse_actions
from .phases import ALLOWED, guide, where_allowed
from .prompt import default_prompt, render, show
from .schema import check_answer, schema_instruction

if TYPE_CHECKING:
    from .agent import LLMAgent

__all__ = ["DEPTH_OPTION", "Conversation"]

DEPTH_OPTION = "llm_depth"  # a delegated task's depth in its chain, in its options
OBSERVATION_CHARS = 8_000  # of one action's result shown to the model

FORMAT = """To act, write one or more blocks like these in your answer (fields as shown):
{blocks}
Blocks run after your answer and their results come back in the next message. When you have
the result, give it as the answer with no blocks (or as ACTION: FINAL with ANSWER:)."""

BLOCKS = {
    "DELEGATE": "ACTION: DELEGATE\nAGENT_TYPE: <one of: {targets}>\nTASK: <what to do, "
    "self-contained>\n---END---",
    "TOOL": "ACTION: TOOL\nNAME: <tool>\nARGS: <JSON object of arguments>\n---END---",
    "MESSAGE": "ACTION: MESSAGE\nTO: <agent: {agents}>\nCONTENT: <the message>\n---END---",
}


class Conversation:
    """Runs one attempt of one task on an `LLMAgent`."""

    def __init__(self, agent: LLMAgent, ctx: Any) -> None:
        self.agent = agent
        self.ctx = ctx
        self.messages: list[dict[str, Any]] = []
        self.delegated = 0
        self.depth = int((ctx.options or {}).get(DEPTH_OPTION, 0) or 0)
        self.tokens = 0
        self.cost = 0.0
        self.inbox: Any = None
        self.targets = self._targets()

    # -- the task ------------------------------------------------------------------------------

    async def run(self) -> Any:
        a = self.agent
        result: Any = None
        try:
            system = self._system()
            if system:
                self.messages.append({"role": "system", "content": system})
            request = self._request()
            planned = False
            for i, phase in enumerate(a.phases):
                intro = guide(phase, planned=planned) if len(a.phases) > 1 else ""
                protocol = self._protocol(phase)
                text = "\n\n".join(p for p in (request if i == 0 else "", intro, protocol) if p)
                self.messages.append({"role": "user", "content": text})
                answer = await self._phase(phase)
                if phase == "planning":
                    planned = True
                elif phase in ("executing", "verifying"):
                    result = answer
                elif phase == "learning" and isinstance(answer, str) and answer.strip():
                    a.lessons.append(answer.strip()[:500])
            return result
        finally:
            a.learned(self.tokens, self.cost)

    async def _phase(self, phase: str) -> Any:
        a = self.agent
        fixes = 0
        for _ in range(a.max_turns):
            done = await self._call(phase)
            calls = [from_tool_call(c["id"], c["name"], c["arguments"]) for c in done.tool_calls]
            actions = calls + parse_actions(done.text)
            self.messages.append(_assistant(done))
            final = next((x for x in actions if x.kind == "FINAL" and x.error is None), None)
            if not actions or final is not None:
                text = final.get("ANSWER") if final is not None else done.text
                if final is not None:
                    await self._run_actions([x for x in actions if x.kind == "MESSAGE"], phase)
                    self._answer_calls(calls, "done")
                if a.schema is None or phase not in ("executing", "verifying"):
                    return text
                value, why = check_answer(text, a.schema)
                if why is None:
                    return value
                fixes += 1
                if fixes > a.schema_retries:
                    raise TaskFailed(
                        f"task {self.ctx.task_id!r}: agent {a.name!r}: the answer does not "
                        f"satisfy the schema after {fixes} tries: {why}",
                        task=self.ctx.task_id,
                    )
                self.messages.append(
                    {
                        "role": "user",
                        "content": f"Your answer does not satisfy the schema: {why}. "
                        + schema_instruction(a.schema),
                    }
                )
                continue
            await self._observe(actions, calls, phase)
        raise TaskFailed(
            f"task {self.ctx.task_id!r}: agent {a.name!r} gave no final answer in "
            f"{a.max_turns} turns of phase {phase!r} (max_turns).",
            task=self.ctx.task_id,
        )

    # -- one model call --------------------------------------------------------------------

    async def _call(self, phase: str) -> Any:
        a, ctx = self.agent, self.ctx
        budget = ctx.run.budget
        if budget is not None and budget.spent_out:
            raise TaskFailed(
                f"task {ctx.task_id!r}: agent {a.name!r}: the run's budget is spent "
                f"({budget.to_dict()}); no more model calls.",
                task=ctx.task_id,
            )
        if self.inbox is not None or a.inbox:
            await self._read_inbox()
        tools = self._tool_specs(phase) if a.native_tools else None
        show = ctx.stream if a.stream else None
        if show is not None and self.tokens:
            show("\n")  # after the first call: each answer on a line of its own
        try:
            done = await a.client.complete(  # type: ignore[union-attr]
                self.messages,
                temperature=a.temperature,
                max_tokens=a.max_tokens,
                tools=tools,
                stream=a.stream,
                on_text=show,
            )
        except LLMError as exc:
            exc.task = ctx.task_id
            raise
        cost = a.cost(done.prompt_tokens, done.completion_tokens, done.model or None)
        self.tokens += done.prompt_tokens + done.completion_tokens
        self.cost += cost
        ctx.record_usage(
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            cost=cost,
            latency=done.latency,
            model=a.model,
        )
        return done

    # -- actions -----------------------------------------------------------------------------

    async def _observe(self, actions: list[Action], calls: list[Action], phase: str) -> None:
        results = await self._run_actions(actions, phase)
        lines = []
        for action, (ok, text) in zip(actions, results, strict=True):
            if action.call_id is not None:
                self.messages.append(
                    {"role": "tool", "tool_call_id": action.call_id, "content": text}
                )
            else:
                lines.append(f"[{len(lines) + 1}] {'' if ok else 'error: '}{text}")
        if lines:
            self.messages.append(
                {
                    "role": "user",
                    "content": "Results of your actions:\n"
                    + "\n".join(lines)
                    + "\n\nGo on with the task.",
                }
            )

    async def _run_actions(self, actions: list[Action], phase: str) -> list[tuple[bool, str]]:
        """``(ok, text)`` for each action: its result, or why it did not run."""
        out: list[tuple[bool, str] | None] = [None] * len(actions)
        delegations: list[tuple[int, dict[str, Any]]] = []
        for i, x in enumerate(actions):
            refused = self._refusal(x, phase)
            if refused is not None:
                out[i] = (False, refused)
            elif x.kind == "DELEGATE":
                why, sub = self._subtask(x, len(delegations))
                if why is not None:
                    out[i] = (False, why)
                else:
                    delegations.append((i, sub))  # type: ignore[arg-type]
            elif x.kind == "TOOL":
                out[i] = await self._tool(x)
            elif x.kind == "MESSAGE":
                out[i] = await self._message(x)
            else:  # FINAL with an error (a good FINAL never gets here)
                out[i] = (False, f"{x.error}. {_fix(x)}")
        if delegations:
            self.delegated += len(delegations)
            results = await self.ctx.delegate_many(
                [sub for _, sub in delegations], return_exceptions=True
            )
            for (i, sub), res in zip(delegations, results, strict=True):
                who = sub.get("capability") or sub.get("agent")
                if isinstance(res, BaseException):
                    out[i] = (False, f"DELEGATE to {who} (task {sub['id']!r}) failed: {res}")
                else:
                    out[i] = (True, f"DELEGATE to {who} (task {sub['id']!r}):\n{_clip(res)}")
        return out  # type: ignore[return-value]

    def _refusal(self, x: Action, phase: str) -> str | None:
        if x.error is not None:
            return f"ACTION {x.kind} is malformed: {x.error}. {_fix(x)}"
        if x.kind not in ALLOWED[phase]:
            return (
                f"ACTION {x.kind} is not allowed while {phase} (only while "
                f"{' or '.join(where_allowed(x.kind))}); it was not run."
            )
        a = self.agent
        if x.kind == "TOOL" and x.get("NAME") not in a.tools:
            have = ", ".join(a.tools) or "none"
            return f"there is no tool {x.get('NAME')!r} (tools: {have})."
        if x.kind == "MESSAGE" and not a.message_to:
            return "this agent may not send messages (message_to is empty)."
        return None

    def _subtask(self, x: Action, in_turn: int) -> tuple[str | None, dict[str, Any] | None]:
        a, ctx = self.agent, self.ctx
        if not a.delegate_to or not a.max_delegations:
            return "this agent may not delegate (delegate_to is empty).", None
        if self.depth >= a.max_depth:
            return (
                f"delegation depth limit reached ({a.max_depth}): this task was itself "
                "delegated; do the work yourself.",
                None,
            )
        if self.delegated + in_turn >= a.max_delegations:
            return f"delegation limit reached ({a.max_delegations} per task).", None
        if in_turn >= a.max_fanout:
            return f"at most {a.max_fanout} delegations at once (max_fanout).", None
        name = x.get("AGENT")
        capability = x.get("AGENT_TYPE") or x.get("CAPABILITY")
        if name is None and "*" not in a.delegate_to and capability not in a.delegate_to:
            return (
                f"AGENT_TYPE {capability!r} is not one this agent may delegate to "
                f"({', '.join(self.targets)}).",
                None,
            )
        given = x.get("INPUT")
        task = x.get("TASK")
        payload: Any = dict(given) if isinstance(given, dict) else {}
        if given is not None and not isinstance(given, dict):
            payload["input"] = given
        if task:
            payload["task"] = task
        n = self.delegated + in_turn + 1
        sid = f"{ctx.task_id}/{n}" if ctx.attempt == 1 else f"{ctx.task_id}/{ctx.attempt}.{n}"
        sub: dict[str, Any] = {
            "id": sid,
            "input": payload,
            "options": {DEPTH_OPTION: self.depth + 1},
        }
        if name is not None:
            sub["agent"] = name
        else:
            sub["capability"] = capability
        parent = ctx.task
        if parent.timeout is not None:
            sub["timeout"] = parent.timeout
        if parent.retry.max_attempts > 1:
            sub["retry"] = parent.retry
        return None, sub

    async def _tool(self, x: Action) -> tuple[bool, str]:
        tool = self.agent.tools[x.get("NAME")]
        try:
            res = await tool.call(x.get("ARGS") or {}, self.ctx)
        except Exception as exc:
            return False, f"TOOL {tool.name} raised {type(exc).__name__}: {str(exc)[:500]}"
        return True, f"TOOL {tool.name}:\n{_clip(res)}"

    async def _message(self, x: Action) -> tuple[bool, str]:
        a, ctx = self.agent, self.ctx
        payload = {"from": ctx.agent, "task": ctx.task_id, "content": x.get("CONTENT")}
        topic = x.get("TOPIC")
        try:
            if topic is not None:
                await ctx.publish(topic, payload)
                return True, f"MESSAGE published on {topic!r}."
            to = x.get("TO")
            if "*" not in a.message_to and to not in a.message_to:
                return False, f"this agent may message only {', '.join(a.message_to)}."
            if to not in ctx.run.agents:
                names = ", ".join(sorted(n for n in ctx.run.agents if n != ctx.agent))
                return False, f"there is no agent {to!r} (agents: {names or 'none'})."
            await ctx.bus.send(to, payload, sender=ctx.agent)
        except Exception as exc:
            return False, f"MESSAGE could not be sent: {type(exc).__name__}: {exc}"
        return True, f"MESSAGE sent to {to}."

    def _answer_calls(self, calls: list[Action], text: str) -> None:
        # every native tool call needs an answer before the conversation goes on
        for c in calls:
            self.messages.append({"role": "tool", "tool_call_id": c.call_id, "content": text})

    async def _read_inbox(self) -> None:
        ctx = self.ctx
        if self.inbox is None:
            self.inbox = await ctx.bus.inbox(ctx.agent)
        got = []
        while True:
            msg = self.inbox.get_nowait()
            if msg is None:
                break
            got.append(f"- from {msg.sender or 'someone'}: {_clip(msg.payload, 2000)}")
        if got:
            self.messages.append(
                {"role": "user", "content": "Messages for you:\n" + "\n".join(got)}
            )

    # -- prompts -------------------------------------------------------------------------------

    def _system(self) -> str:
        a = self.agent
        parts = [a.system_prompt or ""]
        if a.lessons:
            parts.append(
                "Lessons from your earlier tasks:\n" + "\n".join(f"- {x}" for x in a.lessons)
            )
        if a.schema is not None:
            parts.append(schema_instruction(a.schema))
        return "\n\n".join(p for p in parts if p)

    def _request(self) -> str:
        a, ctx = self.agent, self.ctx
        deps = ctx.deps
        if a.prompt is None:
            return default_prompt(ctx.input, deps)
        scope = {
            "input": ctx.input,
            "deps": deps,
            "task": {"id": ctx.task_id, "attempt": ctx.attempt},
            "agent": ctx.agent,
        }
        return render(a.prompt, scope, agent=a.name, task=ctx.task_id)

    def _targets(self) -> list[str]:
        a = self.agent
        if not a.delegate_to or not a.max_delegations:
            return []
        named = [c for c in a.delegate_to if c != "*"]
        if "*" in a.delegate_to:  # any capability of the run's agents, its own last
            own = set(a.capabilities)
            caps = {c for ag in self.ctx.run.agents.values() for c in ag.capabilities}
            named += sorted(caps - own - set(named))
        return named or ["any capability"]

    def _protocol(self, phase: str) -> str:
        """How to act in ``phase``: only the actions it allows and the agent can use."""
        a = self.agent
        if a.native_tools:
            return ""
        usable = []
        allowed = ALLOWED[phase]
        if "DELEGATE" in allowed and self.targets and self.depth < a.max_depth:
            usable.append(BLOCKS["DELEGATE"].format(targets=", ".join(self.targets)))
        if "TOOL" in allowed and a.tools:
            listing = "\n".join(f"  {t.signature()}" for t in a.tools.values())
            usable.append(BLOCKS["TOOL"] + "\nTools:\n" + listing)
        if "MESSAGE" in allowed and a.message_to:
            names = ", ".join(a.message_to) if "*" not in a.message_to else "any agent's name"
            usable.append(BLOCKS["MESSAGE"].format(agents=names))
        if not usable:
            return ""
        return FORMAT.format(blocks="\n\n".join(usable))

    def _tool_specs(self, phase: str) -> list[dict[str, Any]] | None:
        a = self.agent
        allowed = ALLOWED[phase]
        specs = []
        if "DELEGATE" in allowed and self.targets and self.depth < a.max_depth:
            kinds: dict[str, Any] = {"type": "string"}
            if "*" not in a.delegate_to:
                kinds["enum"] = self.targets
            specs.append(_native("delegate", "Give a task to another agent type; its result "
                                 "comes back as this call's result.",
                                 {"agent_type": kinds, "task": {"type": "string"}},
                                 ["agent_type", "task"]))  # fmt: skip
        if "TOOL" in allowed:
            specs += [t.spec() for t in a.tools.values()]
        if "MESSAGE" in allowed and a.message_to:
            specs.append(_native("send_message", "Send a message to another agent.",
                                 {"to": {"type": "string"}, "content": {"type": "string"}},
                                 ["to", "content"]))  # fmt: skip
        return specs or None


def _native(name: str, doc: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": doc,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


def _assistant(done: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": done.text or ""}
    if done.tool_calls:
        msg["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in done.tool_calls
        ]
    return msg


def _clip(value: Any, limit: int = OBSERVATION_CHARS) -> str:
    text = show(value)
    return text if len(text) <= limit else text[:limit] + " [...]"


def _fix(x: Action) -> str:
    example = {
        "DELEGATE": "ACTION: DELEGATE / AGENT_TYPE: <type> / TASK: <task> / ---END---",
        "TOOL": 'ACTION: TOOL / NAME: <tool> / ARGS: {"arg": "value"} / ---END---',
        "MESSAGE": "ACTION: MESSAGE / TO: <agent> / CONTENT: <text> / ---END---",
        "FINAL": "ACTION: FINAL / ANSWER: <answer> / ---END---",
    }.get(x.kind)
    fmt = f"Write it as (one field a line): {example}" if example else ""
    return (fmt + " It was not run.").strip()
