"""What a store keeps for `podium serve`, on top of runs: API keys (hashed), idempotency keys,
agents registered through the API, and run ownership leases.

Many servers can share one database (PostgreSQL). Each running run is *owned* by one server
through ``owner`` and ``lease_expires`` on its row: the owner renews the lease of all its runs
with one statement every few seconds; when a server dies, its leases run out and another
server claims each run with a compare-and-set on the owner (`claim_run`), then resumes it.
A cancel asked of a server that does not own the run is written down (`request_cancel`) and
picked up by the owner when it renews (`cancel_requests`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

__all__ = ["ApiKey", "Orphan", "ServiceRecords"]

ROLES = ("admin", "operator", "viewer", "worker")


@dataclass(slots=True)
class ApiKey:
    """An API key as stored: never the key itself, only its scrypt hash."""

    key_id: str
    role: str
    hash: str
    name: str | None = None
    rate_limit: float | None = None  # requests per second; None: the server's default
    created_at: float = 0.0
    revoked_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        from ..result import iso

        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role,
            "rate_limit": self.rate_limit,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
            "revoked": self.revoked_at is not None,
        }


@dataclass(slots=True)
class Orphan:
    """A running run whose lease ran out (or that never had one): who owned it, until when."""

    run_id: str
    owner: str | None
    lease_expires: float | None


class ServiceRecords(ABC):
    """The service's part of the `Store` interface (mixed into it)."""

    #: seconds a run's lease lasts once written; set by a server, None elsewhere (no lease)
    lease_ttl: float | None = None

    # -- API keys --------------------------------------------------------------------------

    @abstractmethod
    async def create_key(self, key: ApiKey) -> None:
        """Store a new key (its id must be new)."""

    @abstractmethod
    async def get_key(self, key_id: str) -> ApiKey | None: ...

    @abstractmethod
    async def list_keys(self) -> list[ApiKey]:
        """Every key, oldest first, revoked ones included."""

    @abstractmethod
    async def revoke_key(self, key_id: str, at: float) -> bool:
        """Revoke a key; False when no key has that id."""

    # -- idempotency -----------------------------------------------------------------------

    @abstractmethod
    async def claim_idempotency(self, key: str, run_id: str, at: float) -> str:
        """Tie ``key`` to ``run_id`` unless it is tied already; the run it is tied to."""

    # -- agents registered through the API ---------------------------------------------------

    @abstractmethod
    async def save_agent(self, name: str, spec: dict[str, Any], at: float) -> None:
        """Insert or replace an agent's registration."""

    @abstractmethod
    async def delete_agent(self, name: str) -> bool: ...

    @abstractmethod
    async def list_agents(self) -> dict[str, dict[str, Any]]:
        """Registrations by name, oldest first."""

    # -- run ownership ------------------------------------------------------------------------

    @abstractmethod
    async def renew_leases(self, owner: str, expires: float) -> list[str]:
        """Extend the lease of every running run ``owner`` owns; their ids."""

    @abstractmethod
    async def orphans(self, now: float, limit: int = 100) -> list[Orphan]:
        """Running runs whose lease expired before ``now``, or that have none."""

    @abstractmethod
    async def claim_run(
        self, run_id: str, owner: str, expires: float, *, now: float, from_owner: str | None
    ) -> bool:
        """Make ``owner`` the run's owner if it still belongs to ``from_owner`` and its lease
        (if any) expired before ``now``: of several servers claiming it, one wins."""

    @abstractmethod
    async def request_cancel(self, run_id: str) -> None:
        """Ask the run's owner to cancel it; `StoreError` for an unknown run."""

    @abstractmethod
    async def cancel_requests(self, owner: str) -> list[str]:
        """Running runs of ``owner`` that someone asked to cancel."""
