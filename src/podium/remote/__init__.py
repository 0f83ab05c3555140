"""Talking to a podium server from elsewhere: `Client` (the API as Python calls) and `Worker`
(a pull worker: leases tasks, runs a handler, reports). Both use httpx, imported when they are
made (``pip install 'podium[server]'``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client as Client
    from .worker import Worker as Worker

__all__ = ["Client", "Worker"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from .client import Client

        return Client
    if name == "Worker":
        from .worker import Worker

        return Worker
    raise AttributeError(f"module 'podium.remote' has no attribute {name!r}")
