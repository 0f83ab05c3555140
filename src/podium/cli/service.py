"""Commands of podium as a service: ``serve``, ``worker``, and ``keys create|list|revoke``.

fastapi, uvicorn and httpx are imported by the commands that run, never at start-up.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .options import (
    Backend,
    BackendOpt,
    Command,
    GatesOpt,
    JsonOpt,
    KeyOpt,
    RayAddressOpt,
    ServerOpt,
)

__all__ = ["register"]

keys_app = typer.Typer(
    name="keys",
    help="API keys of a server: create (printed once), list, revoke. Works on the store "
    "(--db) or through a server (--server, with an admin key).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    from .options import command

    command(app, serve)
    command(app, worker)
    app.add_typer(keys_app)


def serve(
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="PODIUM_DB",
            metavar="URL",
            help="The store: a SQLite file (default podium.db), sqlite:///FILE or "
            "postgresql://USER@HOST/DB (many servers may share one).",
        ),
    ] = "podium.db",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: a free one).", min=0)] = 8000,
    agents: Annotated[
        str | None,
        typer.Option(
            "--agents", metavar="FILE", help="The server's own agents: a file with 'agents:'."
        ),
    ] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="No credentials: every caller is an admin. Loopback addresses only.",
        ),
    ] = False,
    jwt_secret: Annotated[
        str | None,
        typer.Option("--jwt-secret", envvar="PODIUM_JWT_SECRET", help="Accept HS256 JWTs."),
    ] = None,
    jwt_public_key: Annotated[
        str | None,
        typer.Option("--jwt-public-key", metavar="PEM", help="Accept RS256/ES256 JWTs."),
    ] = None,
    jwt_audience: Annotated[
        str | None, typer.Option("--jwt-audience", help="The 'aud' JWTs must carry.")
    ] = None,
    rate_limit: Annotated[
        float, typer.Option("--rate-limit", help="Requests/s per key (0: no limit).", min=0)
    ] = 0.0,
    max_body: Annotated[
        int, typer.Option("--max-body", help="Largest request body in bytes.", min=1)
    ] = 10 * 1024 * 1024,
    allow_module: Annotated[
        list[str] | None,
        typer.Option("--allow-module", help="Submitted handlers may name this module."),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", help="Agent URLs may point at this private host/network."),
    ] = None,
    lease_ttl: Annotated[
        float, typer.Option("--lease-ttl", help="Seconds before another server takes a run.")
    ] = 10.0,
    worker_ttl: Annotated[
        float, typer.Option("--worker-ttl", help="Seconds a worker's leases last unrenewed.")
    ] = 10.0,
    public_docs: Annotated[
        bool, typer.Option("--public-docs", help="Serve /docs and /openapi.json to anyone.")
    ] = False,
    backend: BackendOpt = Backend.local,
    ray_address: RayAddressOpt = None,
    gates: GatesOpt = None,
) -> None:
    """Run podium as a service.

    The REST API under /api/v1, /docs, /metrics and live events (docs/server.md).
    Unfinished runs found in the store resume at start. Several servers may share one
    PostgreSQL database: each run is owned by one, and the others take over the runs of a
    server that dies. SIGINT/SIGTERM hand this server's runs over and stop it.
    """
    from .output import say, user_errors

    with user_errors():
        from ..server.config import ServerConfig

        config = ServerConfig(
            db=db,
            host=host,
            port=port,
            agents=agents,
            insecure_no_auth=insecure_no_auth,
            jwt_secret=jwt_secret,
            jwt_public_key=jwt_public_key,
            jwt_audience=jwt_audience,
            rate_limit=rate_limit,
            max_body=max_body,
            allow_modules=list(allow_module or ()),
            allow_hosts=list(allow_host or ()),
            lease_ttl=lease_ttl,
            worker_ttl=worker_ttl,
            public_docs=public_docs,
            backend=backend.value,
            ray_address=ray_address,
            gates=gates,
        )
        config.check()
        try:
            import uvicorn

            from ..server.app import create_app
            from ..server.background import bind
        except ImportError as exc:
            from ..errors import ValidationError

            raise ValidationError(
                f"podium serve needs {exc.name}: pip install 'podium[server]'.", field="server"
            ) from None
        app = create_app(config)
        try:
            sock = bind(host, port)
        except OSError as exc:
            from ..errors import ValidationError

            raise ValidationError(
                f"cannot listen on {host}:{port}: {exc.strerror}.", field="port"
            ) from None
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    auth = (
        "NO AUTH (insecure)"
        if insecure_no_auth
        else "API keys" + (" and JWTs" if jwt_secret or jwt_public_key else "")
    )
    say(f"podium serving on http://{shown}:{bound_port} (store: {db}; auth: {auth})")
    say(f"dashboard: http://{shown}:{bound_port}/ (sign in with an API key)")
    import sys

    sys.stderr.flush()
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    )
    server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(2)


def worker(
    server: Annotated[
        str,
        typer.Option(
            "--server",
            envvar="PODIUM_SERVER",
            metavar="URL",
            help="Server URL(s), comma-separated.",
        ),
    ],
    capabilities: Annotated[
        str, typer.Option("--capabilities", metavar="A,B", help="What this worker can do.")
    ],
    handler: Annotated[
        str, typer.Option("--handler", metavar="MODULE:FN", help="The function that runs a task.")
    ],
    key: KeyOpt = None,
    capacity: Annotated[int, typer.Option("--capacity", min=1, help="Tasks at once.")] = 1,
    name: Annotated[
        str | None, typer.Option("--name", help="The agent name (default: worker-HOST-PID).")
    ] = None,
    lease_ttl: Annotated[
        float | None, typer.Option("--lease-ttl", help="Seconds a lease lasts unrenewed.")
    ] = None,
) -> None:
    """Run a server's tasks on this machine.

    Registers as a worker, leases tasks, runs HANDLER on each, reports the results.
    The handler is def handler(ctx) or async def handler(ctx), imported from the current
    folder or an installed package; ctx has input, deps, task_id, run_id, attempt. SIGINT or
    SIGTERM stops leasing, finishes the running tasks and deregisters.
    """
    from .output import say, user_errors

    with user_errors():
        from ..remote.worker import Worker

        w = Worker(
            server,
            key,
            capabilities=[c.strip() for c in capabilities.split(",") if c.strip()],
            handler=handler,
            capacity=capacity,
            name=name,
            lease_ttl=lease_ttl,
        )
        say(f"worker {w.name}: serving {', '.join(w.capabilities)} from {', '.join(w.urls)}")
        import sys

        sys.stderr.flush()
        w.run_sync()
    say(
        f"worker {w.name} stopped: {w.completed} completed, {w.failed} failed, "
        f"{w.rejected} rejected, {w.abandoned} abandoned"
    )


# -- keys -------------------------------------------------------------------------------------


DbOpt = Annotated[
    str | None,
    typer.Option("--db", envvar="PODIUM_DB", metavar="URL", help="The server's store."),
]


def _store_call(db: str | None, server: str | None, key: str | None, work, remote):  # type: ignore[no-untyped-def]
    import asyncio

    if server:
        from ..remote.client import Client

        with Client(server, key) as client:
            return remote(client)
    if not db:
        from ..errors import ValidationError

        raise ValidationError("give the store (--db) or a server (--server).", field="db")
    from ..stores import open_store

    async def go():  # type: ignore[no-untyped-def]
        store = open_store(db)
        try:
            await store.open()
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


@keys_app.command("create", cls=Command)
def keys_create(
    role: Annotated[str, typer.Option("--role", help="admin, operator, viewer or worker.")],
    db: DbOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="A note: who uses it.")] = None,
    rate_limit: Annotated[
        float | None, typer.Option("--rate-limit", help="Requests/s for this key.")
    ] = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an API key and print it (only this once: the store keeps its hash)."""
    from .output import print_json, say, user_errors

    with user_errors(json_out):
        from ..server.auth import new_key

        secret, record = new_key(role, name, rate_limit)

        async def work(store):  # type: ignore[no-untyped-def]
            await store.create_key(record)
            return {"key": secret, **record.to_dict()}

        def remote(client):  # type: ignore[no-untyped-def]
            body = {"role": role, "name": name, "rate_limit": rate_limit}
            return client._call("POST", "/api/v1/keys", json=body)

        doc = _store_call(db, server, key, work, remote)
    if json_out:
        print_json(doc)
        return
    say(doc["key"], stderr=False)
    say(f"key {doc['key_id']} ({doc['role']}): keep it safe, it is not shown again")


@keys_app.command("list", cls=Command)
def keys_list(
    db: DbOpt = None, server: ServerOpt = None, key: KeyOpt = None, json_out: JsonOpt = False
) -> None:
    """List API keys: id, role, name, created, revoked (never the keys)."""
    from .output import print_json, say, user_errors

    with user_errors(json_out):

        async def work(store):  # type: ignore[no-untyped-def]
            return [k.to_dict() for k in await store.list_keys()]

        docs = _store_call(db, server, key, work, lambda c: c._call("GET", "/api/v1/keys"))
    if json_out:
        print_json(docs)
        return
    for d in docs:
        state = f"revoked {d['revoked_at']}" if d["revoked"] else "active"
        say(
            f"{d['key_id']}  {d['role']:<8}  {d['name'] or '-'}  {d['created_at']}  {state}",
            stderr=False,
        )


@keys_app.command("revoke", cls=Command)
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (keys list).")],
    db: DbOpt = None,
    server: ServerOpt = None,
    key: KeyOpt = None,
) -> None:
    """Revoke an API key: requests with it get 401 (at once on the server that revoked it,
    within seconds on the others)."""
    import time

    from .output import say, user_errors

    with user_errors():

        async def work(store):  # type: ignore[no-untyped-def]
            return await store.revoke_key(key_id, time.time())

        def remote(client):  # type: ignore[no-untyped-def]
            client._call("DELETE", f"/api/v1/keys/{key_id}")
            return True

        found = _store_call(db, server, key, work, remote)
        if not found:
            from ..errors import ValidationError

            raise ValidationError(f"no API key with id {key_id!r}.", field="key_id")
    say(f"key {key_id} revoked")
