"""How a server is set up: everything `podium serve` takes on its command line."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from ..errors import ValidationError

__all__ = ["ServerConfig"]


@dataclass
class ServerConfig:
    """Settings of one `podium serve` process (the CLI's options, by the same names)."""

    db: str = "podium.db"  # SQLite file, sqlite:///..., postgresql://..., memory
    host: str = "127.0.0.1"
    port: int = 8000
    agents: str | None = None  # agents.yaml: the server's own agents, `agents:` shape
    insecure_no_auth: bool = False  # every request is an admin: loopback binds only
    jwt_secret: str | None = None  # HS256
    jwt_public_key: str | None = None  # PEM text: RS256 / ES256
    jwt_audience: str | None = None
    rate_limit: float = 0.0  # requests per second per key; 0: none (a key may set its own)
    max_body: int = 10 * 1024 * 1024  # bytes; larger bodies get 413 before they are read
    allow_modules: list[str] = field(default_factory=list)  # submitted handlers may use these
    allow_hosts: list[str] = field(default_factory=list)  # agent URLs that may be private
    lease_ttl: float = 10.0  # seconds a server's run leases last without renewal
    worker_ttl: float = 10.0  # seconds a pull worker's leases last without a heartbeat
    public_docs: bool = False  # /docs and /openapi.json without credentials
    resume: bool = True  # resume unfinished runs found in the store at start
    backend: str = "local"  # where agents run: local or ray (Ray actors)
    ray_address: str | None = None  # with backend ray: the cluster; None: RAY_ADDRESS or local
    gates: str | None = None  # a Redis URL: concurrency keys shared with other servers
    events_kept: int = 100_000  # events kept for SSE clients that reconnect (Last-Event-ID)

    def check(self) -> None:
        if self.insecure_no_auth and not _loopback(self.host):
            raise ValidationError(
                f"--insecure-no-auth serves every request as an admin, so it binds only a "
                f"loopback address (127.0.0.1, ::1, localhost), not {self.host!r}. Create an "
                "API key with `podium keys create --role admin` instead.",
                field="host",
            )
        if self.jwt_public_key and os.path.isfile(self.jwt_public_key):
            with open(self.jwt_public_key, encoding="utf-8") as f:
                self.jwt_public_key = f.read()
        for name in ("lease_ttl", "worker_ttl"):
            if not getattr(self, name) > 0:
                raise ValidationError(f"{name} must be a positive number of seconds.", field=name)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
