"""Agents changed while runs are live: add, pause, resume, terminate; the agents of live runs.

Methods of `podium.Orchestrator` (through `LiveAgents`). Each change reaches every live run
of the orchestrator at once and is recorded as an event in each run's history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._utils.text import did_you_mean
from ..errors import ValidationError
from .agent import Agent, AgentState

if TYPE_CHECKING:
    from ..engine.run import Run
    from .pool import AgentPool


class LiveAgents:
    """Live agent control; mixed into `Orchestrator`, whose state it shares."""

    # provided by Orchestrator
    agents: dict[str, Agent]
    pools: dict[str, AgentPool]
    _active: dict[str, Run]

    if TYPE_CHECKING:

        def register(self, agent: Any, **options: Any) -> Agent: ...
        async def _setup_agents(self, agents: Any) -> None: ...

    async def add_agent(self, agent: Any, **options: Any) -> Agent:
        """Register an agent while runs are live; it is set up and picks up waiting tasks of
        its capabilities at once."""
        built = self.register(agent, **options)
        await self._setup_agents([a for a in self.agents.values() if a.state is AgentState.CREATED])
        for run in self._active.values():
            run._dispatch()
        return built

    def pause_agent(self, name: str) -> Agent:
        """Give the agent no new tasks; the ones it runs finish. An agent not set up yet
        (before its first run) starts paused."""
        agent = self._agent(name)
        if agent.state in (AgentState.IDLE, AgentState.RUNNING):
            agent.state = AgentState.PAUSED
            self._event("agent_paused", agent=name)
        elif agent.state in (AgentState.CREATED, AgentState.INITIALIZING):
            agent.hold = True
        return agent

    def resume_agent(self, name: str) -> Agent:
        """Let a paused agent take tasks again."""
        agent = self._agent(name)
        agent.hold = False
        if agent.state is AgentState.PAUSED:
            agent.state = AgentState.RUNNING if agent.load else AgentState.IDLE
            self._event("agent_resumed", agent=name)
            for run in self._active.values():
                run._dispatch()
        return agent

    async def terminate_agent(self, name: str) -> Agent:
        """Remove the agent: its running tasks go back to the queue for other agents, and
        its ``teardown()`` runs."""
        agent = self._agent(name)
        agent.state = AgentState.TERMINATED
        self.agents.pop(name, None)
        for run in self._active.values():
            run.scheduler.remove_agent(agent)
            moved = run.reassign(agent, f"agent {name!r} was terminated")
            run.event("agent_terminated", agent=name, moved=moved)
        if agent.pool is not None and agent.pool in self.pools:
            pool = self.pools[agent.pool]
            if agent in pool.replicas:
                pool.replicas.remove(agent)
        try:
            await agent.teardown()
        except Exception as exc:  # a failing teardown must not stop the runs
            self._event("agent_teardown_failed", agent=name, error=f"{type(exc).__name__}: {exc}")
        return agent

    def active_runs(self) -> list[Run]:
        """Runs in progress."""
        return list(self._active.values())

    def live_agents(self) -> dict[str, Agent]:
        """Registered agents and the agents that live runs brought from workflow files."""
        agents = dict(self.agents)
        for run in self._active.values():
            for name, a in run.agents.items():
                agents.setdefault(name, a)
        return agents

    def _agent(self, name: str) -> Agent:
        agents = self.live_agents()
        agent = agents.get(name)
        if agent is None:
            raise ValidationError(
                f"no agent named {name!r} (agents: {', '.join(sorted(agents)) or 'none'})."
                f"{did_you_mean(name, agents)}",
                field="agent",
            )
        return agent

    def _event(self, kind: str, **data: Any) -> None:
        for run in self._active.values():
            run.event(kind, **data)
