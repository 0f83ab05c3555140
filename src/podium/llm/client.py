"""One agent's connection to an OpenAI-compatible chat-completions endpoint, with retries.

Built on the official ``openai`` client (imported when the agent is set up, never at podium
import: it takes about a second). The client's own retries are off; podium retries here so it
can say what happened and keep its own bounds:

- 429 (rate limited): wait what ``Retry-After`` (or ``retry-after-ms``) says, at most
  ``max_retry_after`` seconds, else back off;
- 5xx, 408, 409, connection errors and request timeouts: back off exponentially with jitter;
- any other 4xx (bad key, unknown model, bad request): fail at once with the server's reason.

A request that hangs ends after ``request_timeout`` seconds and counts as a timeout; the
task's own ``timeout`` cancels the whole call (and its retries) regardless.

Many calls at once go through several clients (*shards*) of at most `SHARD` connections each,
the least busy first: the HTTP client's connection pool scans all its connections for every
request, so one pool of 1,000 connections costs O(n) per call, and 1,000 concurrent calls
O(n^2) (measured: half the CPU time of 300 concurrent calls went to that scan).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import HandlerError, LLMError

__all__ = ["ChatClient", "Completion", "retry_after"]

RETRY_STATUSES = frozenset((408, 409, 429))
SHARD = 64  # connections per client: pool scans stay short


@dataclass(slots=True)
class Completion:
    """One model answer: its text, tool calls, token counts and how long it took."""

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    finish_reason: str | None = None
    model: str = ""
    retries: int = 0
    usage_reported: bool = True


def retry_after(headers: Any, cap: float) -> float | None:
    """Seconds a 429's headers ask to wait (``retry-after-ms``, ``retry-after`` in seconds or
    as an HTTP date), at most ``cap``; None when they say nothing usable."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return min(cap, max(0.0, float(ms) / 1000))
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return min(cap, max(0.0, float(raw)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return min(cap, max(0.0, when.timestamp() - time.time()))


class ChatClient:
    """Calls ``model`` at ``base_url`` (``OPENAI_BASE_URL`` when None) with retries."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str,
        agent: str,
        request_timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        max_retry_after: float = 60.0,
        extra_body: dict[str, Any] | None = None,
        connections: int = 1000,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.agent = agent
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.extra_body = extra_body
        self.connections = connections
        self._client: Any = None  # the first shard (its base_url names the endpoint)
        self._shards: list[Any] = []
        self._busy: list[int] = []  # calls in flight per shard
        self._openai: Any = None
        self._loop: Any = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        if self._client is not None:
            if self._loop is loop:
                return
            # opened on another event loop (run_sync makes one per call): its connections
            # belong to that loop, so start afresh here
            self._client = None
        self._loop = loop
        try:
            import openai
        except ImportError:
            raise HandlerError(
                f"agent {self.agent!r} is an LLM agent, which needs the openai package: "
                "pip install 'podium[llm]'.",
                field="kind",
            ) from None
        self._openai = openai
        n = max(1, -(-self.connections // SHARD))
        size = -(-self.connections // n)
        self._shards = [
            openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key,
                max_retries=0,
                timeout=self.request_timeout,
                http_client=openai.DefaultAsyncHttpxClient(
                    limits=_limits(openai, size), timeout=self.request_timeout
                ),
            )
            for _ in range(n)
        ]
        self._busy = [0] * n
        self._client = self._shards[0]

    async def close(self) -> None:
        shards, self._shards, self._client = self._shards, [], None
        if self._loop is asyncio.get_running_loop():
            for client in shards:
                await client.close()

    @property
    def where(self) -> str:
        return str(self._client.base_url) if self._client is not None else str(self.base_url)

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        stream: bool = False,
        on_text: Callable[[str], None] | None = None,
        on_retry: Callable[[str, float], None] | None = None,
    ) -> Completion:
        """One answer to ``messages``, retried as the module docstring says."""
        if self._client is None or self._loop is not asyncio.get_running_loop():
            await self.open()
        openai = self._openai
        args: dict[str, Any] = {"model": self.model, "messages": messages}
        if temperature is not None:
            args["temperature"] = temperature
        if max_tokens is not None:
            args["max_tokens"] = max_tokens
        if tools:
            args["tools"] = tools
        if self.extra_body:
            args["extra_body"] = self.extra_body
        start = time.monotonic()
        attempt = 0
        busy = self._busy
        while True:
            k = busy.index(min(busy)) if len(busy) > 1 else 0
            busy[k] += 1
            try:
                client = self._shards[k]
                if stream:
                    done = await self._stream(client, args, on_text)
                else:
                    done = _completion(await client.chat.completions.create(**args))
                done.latency = time.monotonic() - start
                done.retries = attempt
                return done
            except openai.APIStatusError as exc:
                status = exc.status_code
                reason = _reason(exc)
                if status not in RETRY_STATUSES and status < 500:
                    raise LLMError(self._refused(status, reason), status=status) from None
                wait = retry_after(exc.response.headers, self.max_retry_after)
                what = f"HTTP {status}: {reason}"
            except openai.APITimeoutError:
                status, wait = None, None
                what = f"no answer within {self.request_timeout:g}s"
            except openai.APIConnectionError as exc:
                status, wait = None, None
                what = f"cannot connect: {_cause(exc)}"
            finally:
                busy[k] -= 1
            attempt += 1
            if attempt > self.max_retries:
                raise LLMError(
                    f"agent {self.agent!r}: model {self.model!r} at {self.where} failed "
                    f"{attempt} times; the last: {what}.",
                    status=status,
                ) from None
            if wait is None:
                wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                wait *= 1 + 0.2 * (2 * random.random() - 1)
            if on_retry is not None:
                on_retry(what, wait)
            await asyncio.sleep(wait)

    async def _stream(
        self, client: Any, args: dict[str, Any], on_text: Callable[[str], None] | None
    ) -> Completion:
        chunks = await client.chat.completions.create(
            **args, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        usage = None
        finish = None
        async for chunk in chunks:
            if chunk.usage is not None:
                usage = chunk.usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finish = choice.finish_reason or finish
            delta = choice.delta
            if delta is None:
                continue
            if delta.content:
                parts.append(delta.content)
                if on_text is not None:
                    on_text(delta.content)
            for tc in delta.tool_calls or ():
                call = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    call["id"] = tc.id
                fn = tc.function
                if fn is not None:
                    if fn.name:
                        call["name"] += fn.name
                    if fn.arguments:
                        call["arguments"] += fn.arguments
        text = "".join(parts)
        done = Completion(text, [calls[i] for i in sorted(calls)], finish_reason=finish)
        done.model = self.model
        if usage is not None:
            done.prompt_tokens = usage.prompt_tokens or 0
            done.completion_tokens = usage.completion_tokens or 0
        else:  # the server does not report usage when streaming: estimate it
            done.usage_reported = False
            done.prompt_tokens = sum(len(str(m.get("content") or "")) for m in args["messages"])
            done.prompt_tokens //= 4
            done.completion_tokens = max(1, len(text) // 4)
        return done

    def _refused(self, status: int, reason: str) -> str:
        head = f"agent {self.agent!r}: model {self.model!r} at {self.where} refused the call"
        if status == 401:
            return f"{head} (HTTP 401: {reason}). Check the API key in the variable it names."
        if status == 404:
            return (
                f"{head} (HTTP 404: {reason}). Check the model name and base_url (an "
                "OpenAI-compatible base URL usually ends in /v1)."
            )
        return f"{head} (HTTP {status}: {reason})."


def _completion(resp: Any) -> Completion:
    choice = resp.choices[0] if resp.choices else None
    msg = choice.message if choice is not None else None
    calls = (
        [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments or ""}
            for c in (msg.tool_calls or ())
            if getattr(c, "function", None) is not None
        ]
        if msg is not None
        else []
    )
    done = Completion(
        (msg.content or "") if msg is not None else "",
        calls,
        finish_reason=choice.finish_reason if choice is not None else None,
        model=resp.model or "",
    )
    if resp.usage is not None:
        done.prompt_tokens = resp.usage.prompt_tokens or 0
        done.completion_tokens = resp.usage.completion_tokens or 0
    else:
        done.usage_reported = False
    return done


def _reason(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg)[:300]
    return str(getattr(exc, "message", "") or exc)[:300]


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause or exc) or type(cause or exc).__name__
    return text[:200]


def _limits(openai: Any, connections: int) -> Any:
    # the client's default pool (1000 connections, 100 kept alive) would open and close
    # connections under a thousand concurrent calls: keep as many alive as may be open. The
    # class comes from the client's own constants, whichever httpx it is built on.
    from openai._constants import DEFAULT_CONNECTION_LIMITS

    return type(DEFAULT_CONNECTION_LIMITS)(
        max_connections=connections, max_keepalive_connections=connections
    )
