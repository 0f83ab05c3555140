"""A chat model for tests: answers with a set text, word by word when streamed, and reports
its token usage the way real chat APIs do (on the last chunk). No network, no LLM."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


class ScriptedChat(BaseChatModel):
    answer: str = "the quick brown fox"

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _usage(self, messages: list[BaseMessage]) -> dict[str, int]:
        n_in = sum(len(str(m.content).split()) for m in messages)
        n_out = len(self.answer.split())
        return {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out}

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:  # fmt: skip
        message = AIMessage(
            self.answer,
            usage_metadata=self._usage(messages),
            response_metadata={"model_name": "scripted"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        for i, word in enumerate(self.answer.split(" ")):
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=word if i == 0 else " " + word)
            )
        last = AIMessageChunk(
            content="",
            usage_metadata=self._usage(messages),
            response_metadata={"model_name": "scripted"},
        )
        yield ChatGenerationChunk(message=last)

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:  # fmt: skip
        for chunk in self._chunks(messages):
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(self, messages: list[BaseMessage], stop: Any = None,
                       run_manager: Any = None, **kwargs: Any,
                       ) -> AsyncIterator[ChatGenerationChunk]:  # fmt: skip
        for chunk in self._chunks(messages):
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
