"""``podium mcp``: podium as a Model Context Protocol server, so that assistants can plan
and run multi-agent work through it: validate, run and follow workflows, read a run's status
and report, list agents and runs.

``tools`` holds what each tool does (plain coroutines over an orchestrator and its store);
``app`` makes them MCP tools with the official SDK and serves them over stdio or streamable
HTTP. Only ``app`` imports the SDK, and only ``podium mcp`` imports ``app``.
"""

from .tools import Session as Session

__all__ = ["Session"]
