"""The dashboard at ``/`` in a real headless Chromium (Debian's ``chromium``, driven by
Playwright): sign in, the overview, a run's page live, the task drawer, operator actions,
accessibility. One browser and one server (conftest's ``server``) for the whole session; a
screenshot of each page is kept in ``test-output/dashboard/``.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import httpx
import pytest

from _redis import skip_or_fail
from _server import wait_run

CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "dashboard"


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    if not shutil.which(CHROMIUM):
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from _browser import Driver, Remote

    SHOTS.mkdir(parents=True, exist_ok=True)
    driver = Driver()
    pw = driver.call(lambda: sync_playwright().start())
    b = driver.call(lambda: pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"]))
    yield Remote(driver, b)
    driver.call(b.close)
    driver.call(pw.stop)
    driver.stop()


@pytest.fixture
def page(browser, server):  # type: ignore[no-untyped-def]
    """A fresh tab (its own session storage) at 1280 x 800; console errors fail the test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield p
    ctx.close()
    assert not [e for e in errors if "401" not in e], errors


def sign_in(page, key: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.fill("#key", key)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#nav:not([hidden])")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def client(server, role: str = "admin") -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.keys[role]}"}, timeout=30
    )


def axe_serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Serious and critical axe-core violations on the page as it is."""
    import axe_playwright_python

    script = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    page.add_script_tag(content=script.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )
    return found


# -- the shell, sign-in, the overview ---------------------------------------------------------


def test_the_shell_is_served_from_the_package_with_no_outside_requests(page, server):  # type: ignore[no-untyped-def]
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None,
    )
    page.goto("/")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.title() == "podium"
    assert outside == []
    r = httpx.get(server.url + "/ui/app.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert httpx.get(server.url + "/ui/..%2Fapp.py").status_code == 404
    shot(page, "signin")


def test_a_wrong_key_is_refused_with_a_message(page):  # type: ignore[no-untyped-def]
    page.goto("/")
    page.fill("#key", "pod_nope_nope")
    page.click("#signin-form button[type=submit]")
    page.wait_for_function("document.querySelector('#signin-error').textContent.length > 0")
    assert "not valid" in page.text_content("#signin-error")
    assert page.is_hidden("#nav")


def test_overview_shows_agents_and_runs(page, server):  # type: ignore[no-untyped-def]
    with client(server) as c:
        wf = {
            "name": "dash-overview",
            "tasks": [
                {"id": "a", "capability": "echo", "input": 1},
                {"id": "b", "capability": "echo", "depends_on": ["a"]},
            ],
        }
        run_id = c.post("/api/v1/runs", json=wf).json()["run_id"]
        assert wait_run(c, run_id)["status"] == "completed"
    sign_in(page, server.keys["operator"])
    page.wait_for_selector(f"tr[data-run='{run_id}']")
    assert "completed" in page.text_content(f"tr[data-run='{run_id}']")
    page.wait_for_selector("tr[data-agent='echo']")
    row = page.text_content("tr[data-agent='echo']")
    assert "echo" in row and "%" in row  # its success rate
    assert "operator" in page.text_content("#who")
    assert page.is_visible("a[data-page='start']")
    # throughput from before the page opened: the server keeps the last minutes
    page.wait_for_function(
        "/^[1-9]\\d* completed/.test(document.querySelector('#throughput-note').textContent)"
    )
    shot(page, "overview")
    # the key is kept for the tab: a reload stays signed in
    page.reload()
    page.wait_for_selector("#nav:not([hidden])")
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")


def test_a_viewer_is_not_offered_what_it_may_not_do(page, server):  # type: ignore[no-untyped-def]
    sign_in(page, server.keys["viewer"])
    assert page.is_hidden("a[data-page='start']")
    assert "viewer" in page.text_content("#who")


def test_themes_and_keyboard(page, server):  # type: ignore[no-untyped-def]
    sign_in(page, server.keys["admin"])
    before = page.get_attribute("html", "data-theme")
    page.keyboard.press("t")
    after = page.get_attribute("html", "data-theme")
    assert {before, after} == {"light", "dark"}
    page.wait_for_selector("tr[data-agent]")
    shot(page, f"overview-{after}")
    page.keyboard.press("g")
    page.keyboard.press("a")
    page.wait_for_selector("a[data-page='agents'][aria-current='page']")
    assert page.evaluate("location.hash") == "#/agents"
    page.keyboard.press("?")
    assert page.is_visible("#keys-help")
    page.keyboard.press("Escape")
    assert page.is_hidden("#keys-help")


def test_no_serious_accessibility_violations(page, server):  # type: ignore[no-untyped-def]
    page.goto("/")
    page.wait_for_selector("#signin:not([hidden])")
    assert axe_serious(page) == []
    sign_in(page, server.keys["admin"])
    page.wait_for_selector("tr[data-agent]")
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        assert axe_serious(page) == [], theme


def test_the_validate_endpoint_places_errors_on_their_line(server):  # type: ignore[no-untyped-def]
    text = "name: x\ntasks:\n  - id: a\n    capability: echo\n  - id: b\n    capabilty: echo\n"
    with client(server, "viewer") as c:
        r = c.post("/api/v1/validate", files={"file": ("flow.yaml", text)})
        assert r.status_code == 200
        doc = r.json()
        assert doc["valid"] is False
        err = doc["errors"][0]
        assert "capabilty" in err["message"] and "Did you mean 'capability'" in err["message"]
        assert err["line"] == 6
        bad_yaml = "name: x\ntasks:\n  - id: a\n   capability: c\n"
        err = c.post("/api/v1/validate", files={"file": ("f.yaml", bad_yaml)}).json()["errors"][0]
        assert err["line"] == 4 and "invalid YAML" in err["message"]
        dep = "name: x\ntasks:\n  - id: a\n    capability: echo\n    depends_on: [zz]\n"
        err = c.post("/api/v1/validate", files={"file": ("f.yaml", dep)}).json()["errors"][0]
        assert err["line"] == 5 and "'zz'" in err["message"]
        good = "name: ok\ntasks:\n  - {id: a, capability: echo}\n"
        doc = c.post("/api/v1/validate", files={"file": ("f.yaml", good)}).json()
        assert doc["valid"] is True and doc["workflow"] == "ok" and doc["tasks"] == 1
        assert doc["critical_path"] == ["a"] and doc["errors"] == []
        cap = "name: x\ntasks:\n  - id: a\n    capability: nobody-has-this\n"
        err = c.post("/api/v1/validate", files={"file": ("f.yaml", cap)}).json()["errors"][0]
        assert err["error"] == "CapabilityError" and err["line"] == 4


def test_whoami_and_dag_routes(server):  # type: ignore[no-untyped-def]
    with client(server, "viewer") as c:
        assert c.get("/api/v1/whoami").json()["role"] == "viewer"
    with client(server) as c:
        wf = {
            "name": "dash-dag",
            "tasks": [
                {"id": "a", "capability": "echo", "input": {"n": 1}},
                {"id": "b", "capability": "echo", "depends_on": ["a"]},
            ],
        }
        run_id = c.post("/api/v1/runs", json=wf).json()["run_id"]
        wait_run(c, run_id)
        dag = c.get(f"/api/v1/runs/{run_id}/dag").json()
        assert [(t["id"], t["deps"], t["route"]) for t in dag["tasks"]] == [
            ("a", [], "echo"),
            ("b", ["a"], "echo"),
        ]
        assert [(s[0], s[1], s[2], s[3]) for s in dag["states"]] == [
            ("a", "completed", "echo", 1),
            ("b", "completed", "echo", 1),
        ]
        task = c.get(f"/api/v1/runs/{run_id}/tasks/a").json()
        assert task["input"] == {"n": 1} and task["status"] == "completed"
        assert task["result"] == {"echo": {"n": 1}, "deps": {}}
        assert [e["status"] for e in task["history"]] == ["running", "completed"]
        buckets = c.get("/api/v1/throughput").json()["buckets"]
        assert sum(done for _, done, _ in buckets) >= 2
        r = c.get(f"/api/v1/runs/{run_id}/tasks/nope")
        assert r.status_code == 404 and "'nope'" in r.json()["message"]


# -- a run's page -------------------------------------------------------------------------------

# the colour drawn at a task's node, and the colour of each state, as [r, g, b]
PIXEL = """(id) => {
  const d = window.podium.dag, p = d.screenOf(id), dpr = devicePixelRatio;
  const g = d.canvas.getContext('2d');
  const px = g.getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data;
  return [px[0], px[1], px[2]];
}"""
STATE_RGB = """(status) => {
  const hex = getComputedStyle(document.documentElement).getPropertyValue('--' + status).trim();
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}"""


def drawn_as(page, task: str, status: str, timeout: float = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until the DAG's pixel at ``task`` has the colour of ``status``."""
    page.wait_for_function(
        f"([id, st]) => JSON.stringify(({PIXEL})(id)) === JSON.stringify(({STATE_RGB})(st))",
        arg=[task, status],
        timeout=timeout,
    )


def open_run(page, run_id: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/#/runs/{run_id}")
    page.wait_for_selector("#dag[data-ready]")


def test_run_page_shows_tasks_change_state_and_a_failure_with_its_traceback(page, server):  # type: ignore[no-untyped-def]
    sign_in(page, server.keys["operator"])
    with client(server) as c:
        wf = {
            "name": "dash-live",
            "on_failure": "continue",
            "tasks": [
                {"id": "first", "capability": "slow", "input": {"sleep": 2.0}},
                {"id": "second", "capability": "slow", "input": {"sleep": 0.3},
                 "depends_on": ["first"]},
                {"id": "shaky", "capability": "flaky"},
            ],
        }  # fmt: skip
        run_id = c.post("/api/v1/runs", json=wf).json()["run_id"]
        open_run(page, run_id)
        drawn_as(page, "first", "running")
        drawn_as(page, "second", "pending")
        shot(page, "run-running")
        # an open drawer follows its task
        page.fill("#find", "first")
        page.keyboard.press("Enter")
        page.wait_for_selector(".drawer[data-task='first'] .badge.st-running")
        page.wait_for_selector(".drawer[data-task='first'] .badge.st-completed", timeout=30_000)
        page.keyboard.press("Escape")
        drawn_as(page, "first", "completed")
        drawn_as(page, "second", "completed")
        drawn_as(page, "shaky", "failed")
        assert wait_run(c, run_id)["status"] == "partial"
    page.wait_for_selector("#run-status .st-partial")
    assert "second" in page.text_content("#feed")  # the event feed saw it
    assert "first" in page.text_content("#critical-path")
    # a failure is visible without hovering, and opens its drawer with the traceback
    page.click("#failures button[data-task='shaky']")
    page.wait_for_selector(".drawer[data-task='shaky'] #task-error")
    error = page.text_content("#task-error")
    assert "RuntimeError: flaky the first time" in error
    tb = page.text_content(".drawer pre.traceback")
    assert "Traceback" in tb and "in flaky" in tb and "flaky the first time" in tb
    shot(page, "task-drawer")
    assert axe_serious(page) == []
    page.keyboard.press("Escape")
    assert page.query_selector(".drawer") is None
    assert axe_serious(page) == []
    page.keyboard.press("t")
    assert axe_serious(page) == []
    shot(page, "run-other-theme")
    # the HTML report opens from the page (fetched with the key, shown from a blob)
    page.evaluate("window.open = (url) => { window.__opened = url; }")
    page.click("text=HTML report")
    page.wait_for_function("!!window.__opened")
    report = page.evaluate("async () => (await fetch(window.__opened)).text()")
    assert run_id in report and "shaky" in report


def test_cancel_and_resume_a_run_from_its_page(page, server):  # type: ignore[no-untyped-def]
    page.on("dialog", lambda d: d.accept())
    sign_in(page, server.keys["operator"])
    with client(server) as c:
        wf = {
            "name": "dash-cancel",
            "tasks": [
                {"id": f"s{i}", "capability": "slow", "input": {"sleep": 20}} for i in range(3)
            ],
        }
        run_id = c.post("/api/v1/runs", json=wf).json()["run_id"]
        open_run(page, run_id)
        page.click("#cancel-run")
        page.wait_for_selector("#run-status .st-cancelled")
        assert c.get(f"/api/v1/runs/{run_id}", params={"tasks": "false"}).json()["status"] == (
            "cancelled"
        )
        drawn_as(page, "s0", "cancelled")
        page.click("#resume-run")
        page.wait_for_selector("#run-status .st-running")
        drawn_as(page, "s0", "running")
        c.post(f"/api/v1/runs/{run_id}/cancel")
        page.wait_for_selector("#run-status .st-cancelled")


def test_a_viewer_sees_a_run_without_its_actions(page, server):  # type: ignore[no-untyped-def]
    with client(server) as c:
        wf = {"name": "dash-view", "tasks": [{"id": "a", "capability": "slow", "input": {}}]}
        run_id = c.post("/api/v1/runs", json=wf).json()["run_id"]
        sign_in(page, server.keys["viewer"])
        open_run(page, run_id)
        page.wait_for_selector("#run-status")
        assert page.query_selector("#cancel-run") is None
        wait_run(c, run_id)


# -- operator actions ---------------------------------------------------------------------------


def test_start_a_workflow_with_errors_shown_beside_their_line(page, server):  # type: ignore[no-untyped-def]
    sign_in(page, server.keys["operator"])
    page.goto("/#/start")
    page.wait_for_selector("#wf-verdict.ok")  # the example is valid
    bad = "name: typed\ntasks:\n  - id: a\n    capability: echo\n  - id: b\n    capabilty: echo\n"
    page.fill("#wf-text", bad)
    page.wait_for_selector("#wf-error:not([hidden])")
    assert page.text_content("#wf-error").startswith("line 6: ")
    assert "Did you mean 'capability'" in page.text_content("#wf-error")
    assert page.text_content(".gutter .bad") == "6"
    assert page.is_disabled("#wf-start")
    shot(page, "start-invalid")
    assert axe_serious(page) == []
    fixed = SHOTS / "fixed.yaml"
    fixed.write_text(bad.replace("capabilty", "capability"))
    page.set_input_files("#wf-file", str(fixed))  # an upload replaces the text
    page.wait_for_selector("#wf-verdict.ok")
    assert page.input_value("#wf-name") == "fixed.yaml"
    assert page.is_hidden("#wf-error")
    page.click("#wf-start")
    page.wait_for_selector("#dag[data-ready]")
    run_id = page.evaluate("window.podium.runId")
    with client(server) as c:
        assert wait_run(c, run_id)["workflow"] == "typed"


def test_agent_controls(page, server):  # type: ignore[no-untyped-def]
    page.on("dialog", lambda d: d.accept())
    with client(server) as c:
        c.post("/api/v1/agents", json={"name": "dash-push", "url": "http://127.0.0.1:9/task",
                                        "capabilities": ["dash-push"]})  # fmt: skip
        sign_in(page, server.keys["operator"])
        page.goto("/#/agents")
        row = "tr[data-agent='slow']"
        page.click(f"{row} [data-action=pause]")
        page.wait_for_selector(f"{row} [data-action=resume]")
        assert c.get("/api/v1/agents/slow").json()["state"] == "paused"
        page.click(f"{row} [data-action=resume]")
        page.wait_for_selector(f"{row} [data-action=pause]")
        assert c.get("/api/v1/agents/slow").json()["state"] != "paused"
        page.fill(f"{row} input[type=number]", "9")
        page.click(f"{row} [data-action=capacity]")
        page.wait_for_function(
            "document.querySelector('#toast').textContent.includes('capacity 9')"
        )
        assert c.get("/api/v1/agents/slow").json()["capacity"] == 9
        pool = "tr[data-agent='pool-1']"
        page.fill(f"{pool} input[aria-label^='Most replicas']", "2")
        page.click(f"{pool} [data-action=scale]")
        page.wait_for_function("document.querySelector('#toast').textContent.includes('replicas')")
        assert c.get("/api/v1/agents/pool-1").json()["replicas"]["max"] == 2
        shot(page, "agents")
        assert axe_serious(page) == []
        page.click("tr[data-agent='dash-push'] [data-action=terminate]")
        page.wait_for_function("!document.querySelector(\"tr[data-agent='dash-push']\")")
        assert c.get("/api/v1/agents/dash-push").status_code == 404
        c.post("/api/v1/agents/slow/scale", json={"capacity": 8})


def test_an_agents_page_shows_its_recent_tasks(page, server):  # type: ignore[no-untyped-def]
    with client(server) as c:
        wf = {"name": "dash-agent", "tasks": [{"id": "x", "capability": "echo", "input": 3}]}
        wait_run(c, c.post("/api/v1/runs", json=wf).json()["run_id"])
    sign_in(page, server.keys["viewer"])
    page.goto("/#/agents/echo")
    page.wait_for_selector("h2#rt-h")
    page.wait_for_function("document.querySelectorAll('#rt-h + div tbody tr').length > 0")
    assert "circuit breaker" in page.text_content("main")
    shot(page, "agent")
    assert axe_serious(page) == []


def test_a_pattern_task_shows_its_participants(page, server):  # type: ignore[no-untyped-def]
    wf = {
        "name": "dash-vote",
        "tasks": [
            {"id": "vote", "capability": "echo", "input": "yes", "pattern": "consensus",
             "consensus": {"agents": 3, "key": "echo"}},
        ],
    }  # fmt: skip
    with client(server) as c:
        run_id = c.post("/api/v1/runs", json=wf).json()["run_id"]
        assert wait_run(c, run_id)["status"] == "completed"
    sign_in(page, server.keys["viewer"])
    open_run(page, run_id)
    page.fill("#find", "vote")
    page.keyboard.press("Enter")
    page.wait_for_selector(".drawer[data-task='vote'] #participants tbody tr")
    rows = page.query_selector_all("#participants tbody tr")
    assert len(rows) == 3
    assert all("completed" in r.text_content() for r in rows)
    assert page.text_content(".drawer").count("vote/") >= 3


def test_a_10000_task_run_page_keeps_up(page, server, capsys):  # type: ignore[no-untyped-def]
    """Opens a 10,000-task run's page as it starts and follows it to the end; prints how long
    the page took to load, how many transitions it received and how fast, and its frame
    times meanwhile (printed, not asserted: they depend on the machine), and checks that it
    ended showing every task completed."""
    page.add_init_script(
        "window.__frames = []; (function f(t) { window.__frames.push(t);"
        " requestAnimationFrame(f); })(0);"
    )
    sign_in(page, server.keys["viewer"])
    n = 10_000
    # the root waits 2 s, so that the page has loaded when the 9,998 others start at once
    tasks = [{"id": "root", "capability": "slow", "input": {"sleep": 2.0}}]
    tasks += [{"id": f"t{i}", "capability": "echo", "depends_on": ["root"]} for i in range(n - 2)]
    every = [f"t{i}" for i in range(n - 2)]
    tasks.append({"id": "sink", "capability": "echo", "depends_on": every})
    with client(server) as c:
        run_id = c.post("/api/v1/runs", json={"name": "dash-10k", "tasks": tasks}).json()["run_id"]
        open_run(page, run_id)
        loaded_at = page.evaluate("performance.now()")
        assert page.evaluate("window.podium.state.get('t0').status") == "pending"
        page.wait_for_function(
            "document.querySelector('#run-progress')?.textContent.startsWith('10000/10000')",
            timeout=120_000,
            polling=50,
        )
        doc = wait_run(c, run_id, timeout=120)
    assert doc["status"] == "completed"
    assert page.evaluate("window.podium.dag.boxes.some((b) => b.cluster)")  # clustered
    drawn_as(page, "t5000", "completed")
    shot(page, "run-10000")
    loaded = page.evaluate("window.podium.loadedMs")
    # the busy part: from the first batch after the root finished to the last one
    arrivals = [a for a in page.evaluate("window.podium.arrivals()") if a[0] >= loaded_at]
    busy = [a for a in arrivals if a[1] > 2] or arrivals
    first, last = busy[0][0], busy[-1][0]
    received = sum(n for _, n in busy)
    frames = page.evaluate(f"window.__frames.filter((t) => t >= {first} && t <= {last})")
    gaps = sorted(b - a for a, b in itertools.pairwise(frames)) or [0.0]
    secs = max((last - first) / 1000, 1e-3)
    with capsys.disabled():
        print(
            f"\n10,000-task run page: loaded in {loaded:.0f} ms; then {received} transitions in "
            f"{secs:.2f} s ({received / secs:.0f}/s); {len(gaps)} frames meanwhile: "
            f"median {gaps[len(gaps) // 2]:.1f} ms, p95 {gaps[int(len(gaps) * 0.95)]:.1f} ms, "
            f"longest {gaps[-1]:.1f} ms"
        )


def test_the_event_stream_in_rows(server):  # type: ignore[no-untyped-def]
    import json

    with client(server) as c:
        wf = {
            "name": "dash-rows",
            "on_failure": "continue",
            "tasks": [
                {"id": "a", "capability": "echo", "input": 1},
                {"id": "b", "capability": "flaky"},
            ],
        }
        run_id = c.post("/api/v1/runs", json=wf).json()["run_id"]
        wait_run(c, run_id)
        rows, names = [], []
        params = {"run": run_id, "format": "rows"}
        with c.stream("GET", "/api/v1/events", params=params, headers={"Last-Event-ID": "0"}) as r:
            for line in r.iter_lines():
                if line.startswith("event: "):
                    names.append(line[7:])
                elif line.startswith("data: ") and names[-1] == "rows":
                    rows += json.loads(line[6:])
                elif line.startswith("data: ") and names[-1] == "run":
                    break
    assert [(r[1], r[2], r[3], r[4]) for r in rows if r[1] == "a"] == [
        ("a", "running", 1, "echo"),
        ("a", "completed", 1, "echo"),
    ]
    failed = [r for r in rows if r[1] == "b" and r[2] == "failed"]
    assert failed and failed[0][6] == "RuntimeError: flaky the first time"
    assert all(r[0] == run_id and isinstance(r[5], float) for r in rows)
    assert names[-1] == "run"


def test_a_long_graph_shares_columns_between_layers(page, server):  # type: ignore[no-untyped-def]
    tasks = [{"id": "root", "capability": "slow", "input": {"sleep": 0}}]
    prev = ["root"]
    for layer in range(60):
        cur = [f"l{layer}_{i}" for i in range(3)]
        for i, t in enumerate(cur):
            dep = prev[i % len(prev)]
            tasks.append(
                {"id": t, "capability": "slow", "input": {"sleep": 0}, "depends_on": [dep]}
            )
        prev = cur
    with client(server) as c:
        run_id = c.post("/api/v1/runs", json={"name": "dash-long", "tasks": tasks}).json()["run_id"]
        wait_run(c, run_id)
    sign_in(page, server.keys["viewer"])
    open_run(page, run_id)
    columns = page.evaluate("new Set(window.podium.dag.boxes.map((b) => b.column)).size")
    assert columns <= 24
    assert page.evaluate("window.podium.dag.boxes.every((b) => b.cluster && b.layers)")
    drawn_as(page, "l59_2", "completed")
    shot(page, "run-long")
