"""The SSRF guard of agent URLs: which addresses an agent may be sent requests at."""

from __future__ import annotations

import pytest

import podium
from podium._utils.code import allow_modules, import_ref, only_modules
from podium._utils.netguard import NetGuard


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.0.0.8/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "private"),  # 0.0.0.0/8 counts as private first
        ("http://224.0.0.1/", "multicast"),
    ],
)
def test_addresses_inside_the_network_are_refused(url: str, why: str) -> None:
    with pytest.raises(podium.ValidationError, match=why) as err:
        NetGuard().check(url)
    assert err.value.field == "url" and "--allow-host" in err.value.message


def test_public_addresses_pass_and_are_pinned() -> None:
    assert NetGuard().check("https://8.8.8.8/x") == ("8.8.8.8", "8.8.8.8")


def test_the_allow_list_takes_names_addresses_and_networks() -> None:
    guard = NetGuard(["127.0.0.1", "10.0.0.0/8", "agents.internal"])
    assert guard.check("http://127.0.0.1:9/")[1] == "127.0.0.1"
    assert guard.check("http://10.4.5.6/")[1] == "10.4.5.6"
    assert guard.check("http://agents.internal/run") == ("agents.internal", "agents.internal")
    with pytest.raises(podium.ValidationError, match="loopback"):
        guard.check("http://127.0.0.2/")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http://", "nope"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(podium.ValidationError, match="http:// or https://"):
        NetGuard().check(url)


async def test_the_async_check_resolves_off_the_loop() -> None:
    with pytest.raises(podium.ValidationError, match="loopback"):
        await NetGuard().acheck("http://localhost:1/")


def test_only_modules_refuses_other_code() -> None:
    with only_modules(["json"]):
        assert import_ref("json:dumps", label="x", field="handler") is not None
        assert import_ref("json.decoder:JSONDecoder", label="x", field="handler") is not None
        with pytest.raises(podium.ValidationError, match="may not name code") as err:
            import_ref("os:system", label="handler 'os:system'", field="handler")
    assert err.value.field == "handler" and "--allow-module os" in err.value.message
    with allow_modules(["os"]):  # outside: the local rule, with os allowed
        assert import_ref("os:getcwd", label="x", field="handler") is not None


def test_an_http_agent_in_python_posts_tasks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            data = json.dumps({"result": body["input"] * 2}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        orch = podium.Orchestrator()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        orch.register(podium.HttpAgent("doubler", url, capabilities=["double"]))
        wf = podium.Workflow("w")
        wf.task("a", capability="double", input=21)
        assert orch.run_sync(wf)["a"] == 42
        guarded = NetGuard()
        with pytest.raises(podium.ValidationError, match="loopback"):
            podium.HttpAgent("x", url, guard=guarded)
    finally:
        httpd.shutdown()
        httpd.server_close()
