"""podium: orchestrate many agents working together on one goal.

Layout: ``workflow`` (tasks and DAGs built in code), ``spec`` (workflow files), ``agents``,
``orchestrator`` (the Python API), ``result``; the engine (``_engine``), the scheduler
(``_scheduler``) and the graph analysis (``_graph``) are private.
"""

import os

from .agents.agent import Agent as Agent
from .agents.agent import AgentState as AgentState
from .engine.context import Context as Context
from .errors import BusError as BusError
from .errors import BusTimeout as BusTimeout
from .errors import CapabilityError as CapabilityError
from .errors import CycleError as CycleError
from .errors import HandlerError as HandlerError
from .errors import PodiumError as PodiumError
from .errors import PodiumInternalError as PodiumInternalError
from .errors import ResultError as ResultError
from .errors import StoreError as StoreError
from .errors import TaskFailed as TaskFailed
from .errors import ValidationError as ValidationError
from .orchestrator import Orchestrator as Orchestrator
from .result import RunResult as RunResult
from .result import RunStatus as RunStatus
from .result import TaskResult as TaskResult
from .result import TaskStatus as TaskStatus
from .spec.workflow import Retry as Retry
from .spec.workflow import Task as Task
from .spec.workflow import Workflow as Workflow

__version__ = "0.1.0"


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
    "CapabilityError",
    "Context",
    "CycleError",
    "HandlerError",
    "Orchestrator",
    "PodiumError",
    "PodiumInternalError",
    "ResultError",
    "Retry",
    "RunResult",
    "RunStatus",
    "StoreError",
    "Task",
    "TaskFailed",
    "TaskResult",
    "TaskStatus",
    "ValidationError",
    "Workflow",
    "__version__",
    "load_workflow",
]
