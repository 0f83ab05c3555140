"""Agents: named workers with capabilities, a capacity, a state and statistics; pools of
replicas; the upkeep of live agents; and the kinds of agent (see `podium.agents.kinds`).
"""

from .agent import Agent as Agent
from .agent import AgentState as AgentState
from .pool import AgentPool as AgentPool

__all__ = ["Agent", "AgentPool", "AgentState"]
