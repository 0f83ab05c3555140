"""podium: orchestrate many agents working together on one goal.

The package, from the people-facing top down to the pieces everything else uses::

    cli/ mcp_server/ the ``podium`` command line (parse, call the API, print); ``podium mcp``
    demo/            ``podium demo``: an offline research team
    server/          ``podium serve``: the REST API, auth, events, the dashboard
    orchestrator.py  the Python API: register agents, run and resume workflows, live control
    report/          the HTML report of a recorded run
    llm/             LLM agents: models, presets, actions, planning
    engine/          one run: the task state machine, the pure scheduler and its gates, live
                     changes, the context a handler sees, task logs, tracebacks and traces,
                     the recorder that writes transitions to a store
    patterns/        consensus, auction, pipeline, delegation, swarm (coordinator handlers)
    stores/ bus/     where runs are kept (memory, SQLite, PostgreSQL); agent messaging
                     (memory, Redis)
    spec/            the workflow format: files, models, code-built workflows, DAG analysis
    remote/          the server's client and ``podium worker``
    agents/          agents, pools, their upkeep, and the kinds of agent (``kind:``)
    migrations/      the stores' schema (Alembic), and the SQLite schema it makes
    result.py        what a run gives back: task and run results and their states
    errors.py        every error podium raises on purpose
    _utils/          JSON checks, the strict model base, code named by files

Lower parts never import higher ones (tests/test_layers.py). Users import from ``podium``
(and ``podium.stores``, ``podium.bus``, ``podium.agents``, ``podium.patterns``); underscored
names can change without notice.
"""

import os

from .agents.agent import Agent as Agent
from .agents.agent import AgentState as AgentState
from .engine.context import Context as Context
from .errors import BusError as BusError
from .errors import BusTimeout as BusTimeout
from .errors import BusUnavailable as BusUnavailable
from .errors import CapabilityError as CapabilityError
from .errors import CycleError as CycleError
from .errors import HandlerError as HandlerError
from .errors import LLMError as LLMError
from .errors import PodiumError as PodiumError
from .errors import PodiumInternalError as PodiumInternalError
from .errors import RemoteError as RemoteError
from .errors import ResultError as ResultError
from .errors import ServiceUnavailable as ServiceUnavailable
from .errors import StoreError as StoreError
from .errors import StoreUnavailable as StoreUnavailable
from .errors import TaskFailed as TaskFailed
from .errors import ValidationError as ValidationError
from .llm.agent import LLMAgent as LLMAgent
from .orchestrator import Orchestrator as Orchestrator
from .result import RunResult as RunResult
from .result import RunStatus as RunStatus
from .result import TaskResult as TaskResult
from .result import TaskStatus as TaskStatus
from .spec.workflow import Retry as Retry
from .spec.workflow import Task as Task
from .spec.workflow import Workflow as Workflow

__version__ = "0.1.0"

# names whose modules load on first use: httpx and pydantic stay out of `import podium`
_LAZY = {
    "Client": "podium.remote.client",
    "HttpAgent": "podium.agents.kinds.http",
    "RayAgent": "podium.agents.kinds.ray",
    "Worker": "podium.remote.worker",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def load_workflow(path: str | os.PathLike[str]) -> Workflow:
    """Load and validate a workflow file; handlers are imported relative to its folder.

    >>> wf = podium.load_workflow("flow.yaml")
    """
    # pydantic and yaml load on first use, so `podium --help` starts fast
    from .spec.loader import load_workflow as load

    return load(path)


__all__ = [
    "Agent",
    "AgentState",
    "BusError",
    "BusTimeout",
    "BusUnavailable",
    "CapabilityError",
    "Client",
    "Context",
    "CycleError",
    "HandlerError",
    "HttpAgent",
    "LLMAgent",
    "LLMError",
    "Orchestrator",
    "PodiumError",
    "PodiumInternalError",
    "RayAgent",
    "RemoteError",
    "ResultError",
    "Retry",
    "RunResult",
    "RunStatus",
    "ServiceUnavailable",
    "StoreError",
    "StoreUnavailable",
    "Task",
    "TaskFailed",
    "TaskResult",
    "TaskStatus",
    "ValidationError",
    "Worker",
    "Workflow",
    "__version__",
    "load_workflow",
]
