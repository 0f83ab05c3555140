"""`LLMAgent`: an agent whose work is done by a language model behind an OpenAI-compatible
endpoint (OpenAI, Ollama, vLLM, llama.cpp's server, ...).

    writer = podium.LLMAgent(
        "writer", model="gpt-4o-mini", agent_type="knowledge",
        prompt="Write a short report on {{input.topic}}.", temperature=0.2,
    )
    orch.register(writer)

The engine sees an ordinary async agent: its handler drives the conversation of one task in
turns (see `podium.llm.turns`), each turn one model call, with actions (delegation, tools,
messages) run between them, and reports every call's tokens, cost and latency. ``setup`` opens
the HTTP client (importing ``openai``), ``teardown`` closes it; one client serves every task of
the agent at once.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..agents.agent import Agent
from ..errors import HandlerError, ValidationError
from .client import ChatClient
from .phases import check_phases
from .presets import preset
from .pricing import Price, cost_of
from .prompt import check_template
from .tools import Tool, as_tool

__all__ = ["LLMAgent"]

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
ESTIMATE_COMPLETION = 256  # completion tokens assumed for a first task without max_tokens
LESSONS = 20  # lessons from the learning phase kept per agent


class LLMAgent(Agent):
    """An agent backed by a chat model. See the LLM agents guide for every option.

    >>> agent = podium.LLMAgent("helper", model="llama3.2", agent_type="knowledge",
    ...                         base_url="http://localhost:11434/v1")
    """

    def __init__(
        self,
        name: str | None = None,
        capabilities: Iterable[str] | None = None,
        capacity: int | None = None,
        *,
        model: str,
        agent_type: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        prompt: str | None = None,
        schema: dict[str, Any] | None = None,
        schema_retries: int = 2,
        phases: Iterable[str] = ("executing",),
        tools: Iterable[Callable[..., Any] | Tool] = (),
        delegate_to: Iterable[str] | None = None,
        message_to: Iterable[str] = (),
        inbox: bool = False,
        max_turns: int = 8,
        max_depth: int = 2,
        max_delegations: int = 8,
        max_fanout: int = 4,
        request_timeout: float = 60.0,
        max_retries: int = 4,
        price: Price | Mapping[str, float] | None = None,
        stream: bool = True,
        native_tools: bool = False,
        extra_body: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        kind = preset(agent_type) if agent_type is not None else None
        if capabilities is None and kind is not None:
            capabilities = kind.capabilities
        super().__init__(name or (kind.name if kind else None), capabilities, capacity, **options)
        who = self.name
        if self.executor != "async":
            raise ValidationError(
                f"agent {who!r}: an LLM agent runs on the loop.", field="executor"
            )
        if not isinstance(model, str) or not model:
            raise ValidationError(f"agent {who!r}: model must be a model name.", field="model")
        self.model = model
        self.agent_type = agent_type
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key_env = api_key_env
        self.system_prompt = (
            system_prompt if system_prompt is not None else (kind.system_prompt if kind else None)
        )
        self.temperature = temperature
        self.max_tokens = max_tokens
        if prompt is not None:
            check_template(prompt, agent=who)
        self.prompt = prompt
        self.schema = schema
        self.schema_retries = _count(schema_retries, "schema_retries", who, lo=0)
        self.phases = check_phases(tuple(phases), agent=who)
        self.tools = {t.name: t for t in (as_tool(t, agent=who) for t in tools)}
        self.delegate_to = tuple(
            delegate_to if delegate_to is not None else (kind.delegate_to if kind else ())
        )
        self.message_to = tuple(message_to)
        self.inbox = inbox
        self.max_turns = _count(max_turns, "max_turns", who)
        self.max_depth = _count(max_depth, "max_depth", who, lo=0)
        self.max_delegations = _count(max_delegations, "max_delegations", who, lo=0)
        self.max_fanout = _count(max_fanout, "max_fanout", who)
        self.request_timeout = request_timeout
        self.max_retries = _count(max_retries, "max_retries", who, lo=0)
        if isinstance(price, Mapping):
            price = Price(float(price.get("input", 0.0)), float(price.get("output", 0.0)))
        self.price = price
        self.stream = stream
        self.native_tools = native_tools
        self.extra_body = extra_body
        self.lessons: deque[str] = deque(maxlen=LESSONS)
        self.client: ChatClient | None = None
        # usage per finished task, for the budget's estimate of the next one
        self.seen_tasks = 0
        self.seen_tokens = 0
        self.seen_cost = 0.0

    # -- life --------------------------------------------------------------------------------

    async def setup(self) -> None:
        env = self.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(env)
        if not key:
            if self.api_key_env is not None:
                raise HandlerError(
                    f"agent {self.name!r}: api_key_env names {env}, which is not set. Export "
                    f"it ({env}=...) before running, or drop api_key_env for a local model.",
                    field="api_key_env",
                )
            key = "unused"  # local servers (Ollama, vLLM, llama.cpp) take any key
        self.client = ChatClient(
            model=self.model,
            base_url=self.base_url,
            api_key=key,
            agent=self.name,
            request_timeout=self.request_timeout,
            max_retries=self.max_retries,
            extra_body=self.extra_body,
            connections=max(10, self.capacity),
        )
        await self.client.open()

    async def teardown(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.close()

    def clone(self, name: str) -> Agent:
        new = super().clone(name)
        assert isinstance(new, LLMAgent)
        new.client = None  # each replica opens its own
        return new

    # -- the work ----------------------------------------------------------------------------

    async def handle(self, ctx: Any) -> Any:
        from .turns import Conversation

        if self.client is None:  # a run built without an orchestrator: set up on first use
            await self.setup()
        return await Conversation(self, ctx).run()

    # -- accounting ---------------------------------------------------------------------------

    def cost(self, prompt_tokens: int, completion_tokens: int, model: str | None = None) -> float:
        return cost_of(model or self.model, prompt_tokens, completion_tokens, self.price)

    def estimate_usage(self, task: Any) -> tuple[float, float]:
        """``(cost, tokens)`` a task of this agent is expected to use, before it starts: the
        mean of its finished tasks, else a guess from the prompt's size and ``max_tokens``."""
        if self.seen_tasks:
            tokens = self.seen_tokens / self.seen_tasks
            cost = self.seen_cost / self.seen_tasks
        else:
            size = len(self.system_prompt or "") + len(self.prompt or "")
            size += len(json.dumps(task.input, default=str))
            prompt = size // 4 + 50
            completion = self.max_tokens or ESTIMATE_COMPLETION
            tokens = prompt + completion
            cost = self.cost(prompt, completion)
        if self.cost_estimate is not None:
            cost = self.cost_estimate
        return cost, tokens

    def bid(self, task: Any) -> float:
        """An auction bid: about when this agent would be done with ``task`` (its load times
        its usual latency), plus what the task would cost."""
        cost, _ = self.estimate_usage(task)
        seconds = self.avg_latency or self.estimated_time or 1.0
        return (self.load + 1) / self.capacity * seconds + cost

    def learned(self, tokens: int, cost: float) -> None:
        self.seen_tasks += 1
        self.seen_tokens += tokens
        self.seen_cost += cost


def _count(value: Any, field: str, agent: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValidationError(
            f"agent {agent!r}: {field} must be a whole number of at least {lo}, not {value!r}.",
            field=field,
        )
    return value
