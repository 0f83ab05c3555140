"""Who may do what on `podium serve`: credentials on every endpoint, roles, JWTs, revoked
keys, rate limits, body limits, agent URLs inside the network, and never a traceback."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from _server import JWT_AUDIENCE, JWT_SECRET, make_key, podium


def _routes(server) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    schema = httpx.get(
        server.url + "/openapi.json",
        headers={"Authorization": f"Bearer {server.keys['viewer']}"},
    ).json()
    out = []
    for path, ops in schema["paths"].items():
        for method in ops:
            out.append((method.upper(), path.replace("{", "").replace("}", "")))
    return out


def _no_traceback(r: httpx.Response) -> None:
    assert "Traceback" not in r.text and 'File "' not in r.text


def test_every_endpoint_but_health_needs_credentials(server) -> None:  # type: ignore[no-untyped-def]
    routes = _routes(server)
    assert len(routes) > 25
    anonymous = httpx.Client(base_url=server.url, timeout=30)
    for method, path in routes:
        r = anonymous.request(method, path)
        if path in ("/healthz", "/readyz"):
            assert r.status_code == 200, path
            continue
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "unauthorized"
        _no_traceback(r)
    assert anonymous.get("/openapi.json").status_code == 401
    assert anonymous.get("/docs").status_code == 401
    anonymous.close()


def test_a_viewer_reads_but_may_not_write(server) -> None:  # type: ignore[no-untyped-def]
    viewer = {"Authorization": f"Bearer {server.keys['viewer']}"}
    client = httpx.Client(base_url=server.url, headers=viewer, timeout=30)
    for method, path in _routes(server):
        if method == "GET":
            continue
        r = client.request(method, path, json={})
        if path.endswith(("/messages", "/heartbeat")) or path in (
            "/api/v1/agents",
            "/api/v1/validate",  # changes nothing: a viewer may check a workflow
        ):
            # open to every role; the body (or the agent) decides
            assert r.status_code in (403, 404, 422), (method, path, r.status_code)
        else:
            assert r.status_code == 403, (method, path, r.status_code)
            assert "may not" in r.json()["message"]
        _no_traceback(r)
    assert httpx.get(server.url + "/api/v1/runs", headers=viewer).status_code == 200


def test_roles_of_workers_and_operators(server) -> None:  # type: ignore[no-untyped-def]
    worker = {"Authorization": f"Bearer {server.keys['worker']}"}
    operator = {"Authorization": f"Bearer {server.keys['operator']}"}
    r = httpx.post(
        server.url + "/api/v1/agents",
        headers=worker,
        json={"name": "x", "url": "http://127.0.0.1:1/"},
    )
    assert r.status_code == 403 and "may not register agents" in r.json()["message"]
    r = httpx.post(server.url + "/api/v1/keys", headers=operator, json={"role": "admin"})
    assert r.status_code == 403
    r = httpx.post(server.url + "/api/v1/workers/echo/lease", headers=operator, json={})
    assert r.status_code == 403 and "lease" in r.json()["message"]


def _token(**claims) -> str:  # type: ignore[no-untyped-def]
    base = {"sub": "ci", "role": "viewer", "aud": JWT_AUDIENCE, "exp": time.time() + 60}
    return jwt.encode({**base, **claims}, JWT_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (lambda: _token(exp=time.time() - 5), "expired"),
        (
            lambda: jwt.encode(
                {"role": "admin", "aud": JWT_AUDIENCE, "exp": time.time() + 60},
                "not-the-secret-0123456789-abcdefghij",
                algorithm="HS256",
            ),
            "invalid token",
        ),
        (lambda: _token(aud="someone-else"), "audience"),
        (
            lambda: jwt.encode(
                {"role": "admin", "aud": JWT_AUDIENCE, "exp": time.time() + 60},
                None,
                algorithm="none",
            ),
            "invalid token",
        ),
        (lambda: _token(exp=None), "invalid token"),
        (lambda: "pod_0123456789ab_nottherightsecret", "invalid API key"),
        (lambda: "garbage", "invalid"),
    ],
    ids=["expired", "forged", "wrong-audience", "alg-none", "no-exp", "wrong-key", "garbage"],
)
def test_bad_credentials_get_401(server, token, message) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(server.url + "/api/v1/runs", headers={"Authorization": f"Bearer {token()}"})
    assert r.status_code == 401, r.text
    assert message in r.json()["message"]
    _no_traceback(r)


def test_a_good_jwt_acts_with_its_role(server) -> None:  # type: ignore[no-untyped-def]
    hdrs = {"Authorization": f"Bearer {_token()}"}
    assert httpx.get(server.url + "/api/v1/runs", headers=hdrs).status_code == 200
    r = httpx.post(server.url + "/api/v1/runs/x/cancel", headers=hdrs)
    assert r.status_code == 403


def test_a_revoked_key_gets_401(server) -> None:  # type: ignore[no-untyped-def]
    admin = {"Authorization": f"Bearer {server.keys['admin']}"}
    made = httpx.post(server.url + "/api/v1/keys", headers=admin, json={"role": "viewer"}).json()
    mine = {"Authorization": f"Bearer {made['key']}"}
    assert httpx.get(server.url + "/api/v1/runs", headers=mine).status_code == 200
    listed = httpx.get(server.url + "/api/v1/keys", headers=admin).json()
    assert made["key_id"] in {k["key_id"] for k in listed}
    assert all("key" not in k and "hash" not in k for k in listed)
    assert (
        httpx.delete(server.url + f"/api/v1/keys/{made['key_id']}", headers=admin).status_code
        == 204
    )
    r = httpx.get(server.url + "/api/v1/runs", headers=mine)
    assert r.status_code == 401 and "revoked" in r.json()["message"]


def test_the_rate_limit_answers_429_with_retry_after(server) -> None:  # type: ignore[no-untyped-def]
    key = make_key(server.db, "viewer", rate_limit=2)
    hdrs = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, headers=hdrs) as c:
        codes = [c.get("/api/v1/stats") for _ in range(8)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["error"] == "rate_limited"


def test_a_body_over_the_limit_gets_413_unread(server) -> None:  # type: ignore[no-untyped-def]
    hdrs = {"Authorization": f"Bearer {server.keys['operator']}"}
    big = b'{"name": "x", "tasks": [' + b" " * 3_000_000 + b"]}"
    r = httpx.post(server.url + "/api/v1/runs", content=big, headers=hdrs)
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 100_000

    r = httpx.post(server.url + "/api/v1/runs", content=chunks(), headers=hdrs)
    assert r.status_code == 413


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/agent",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "http://192.168.0.10/",
        "http://127.0.0.2:9/",  # only 127.0.0.1 is allowed here
        "http://0.0.0.0/",
        "ftp://example.com/",
    ],
)
def test_agent_urls_inside_the_network_are_refused(server, url) -> None:  # type: ignore[no-untyped-def]
    admin = {"Authorization": f"Bearer {server.keys['admin']}"}
    r = httpx.post(
        server.url + "/api/v1/agents",
        headers=admin,
        json={"name": f"inside-{abs(hash(url))}", "url": url, "capabilities": ["x"]},
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"].endswith("url")
    _no_traceback(r)


def test_a_submitted_http_agent_is_checked_too(server) -> None:  # type: ignore[no-untyped-def]
    hdrs = {"Authorization": f"Bearer {server.keys['operator']}"}
    wf = {
        "name": "ssrf",
        "agents": [
            {
                "name": "meta",
                "kind": "http",
                "url": "http://169.254.169.254/",
                "capabilities": ["m"],
            }
        ],
        "tasks": [{"id": "a", "capability": "m"}],
    }
    r = httpx.post(server.url + "/api/v1/runs", headers=hdrs, json=wf)
    assert r.status_code == 422 and "link-local" in r.json()["message"]


def test_insecure_no_auth_binds_loopback_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = podium("serve", "--db", str(tmp_path / "x.db"), "--host", "0.0.0.0", "--insecure-no-auth")
    assert p.returncode == 2
    assert "binds only a loopback address" in p.stderr and "Traceback" not in p.stderr


def test_keys_from_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "k.db")
    made = podium("keys", "create", "--db", db, "--role", "operator", "--name", "ci")
    assert made.returncode == 0 and made.stdout.startswith("pod_")
    assert "not shown again" in made.stderr
    listed = podium("keys", "list", "--db", db, "--json")
    [doc] = __import__("json").loads(listed.stdout)
    assert doc["role"] == "operator" and doc["name"] == "ci" and not doc["revoked"]
    assert made.stdout.strip() not in listed.stdout
    assert podium("keys", "revoke", doc["key_id"], "--db", db).returncode == 0
    bad = podium("keys", "create", "--db", db, "--role", "root")
    assert bad.returncode == 2 and "role 'root' is not one of" in bad.stderr
