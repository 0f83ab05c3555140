"""LLM agents: chat models behind any OpenAI-compatible endpoint, as podium agents.

agent.py    `LLMAgent`, the agent (``kind: llm`` in files builds the same)
kind.py     the ``kind: llm`` file format
turns.py    one task's conversation: phases, turns, actions between them
actions.py  action blocks (DELEGATE, TOOL, MESSAGE, FINAL) and native tool calls
phases.py   planning, executing, verifying, learning: what each allows
presets.py  agent types (knowledge, planner, code, test, review, debug, browser)
prompt.py   prompt templates over the task's input and dependencies
schema.py   answers that must satisfy a JSON schema
tools.py    Python functions the model may call
client.py   the endpoint, with retries (429 Retry-After, 5xx, timeouts)
pricing.py  price per million tokens, per model
planner.py  a goal -> a workflow (rule-based templates in templates.py, or a model)
tensor.py   the assignment tensor T[task, agent, priority level]

The engine knows none of this: an LLM agent is an `Agent` whose async handler waits for the
model. ``openai`` is imported when an agent is set up, never at ``import podium``.
"""

from .agent import LLMAgent as LLMAgent
from .planner import plan_goal as plan_goal
from .presets import AGENT_TYPES as AGENT_TYPES
from .pricing import Price as Price
from .pricing import set_price as set_price
from .tensor import Tensor as Tensor
from .tensor import planned_tensor as planned_tensor
from .tensor import run_tensor as run_tensor
from .tools import Tool as Tool

__all__ = [
    "AGENT_TYPES",
    "LLMAgent",
    "Price",
    "Tensor",
    "Tool",
    "plan_goal",
    "planned_tensor",
    "run_tensor",
    "set_price",
]
