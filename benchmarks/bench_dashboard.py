"""What one open dashboard costs the engine: the fan-out benchmark on `podium serve`, with no
page open and with one page open in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright).

python benchmarks/bench_dashboard.py           # 5 rounds of each
python benchmarks/bench_dashboard.py --quick   # 2 rounds

Each round submits a fan-out of 10,000 no-op tasks and times it from the POST to the run's end
(best of the rounds), alternating: no page; the overview open (it watches every event);
the run's own page opened as the run starts (it loads the run's 10,000 tasks and follows its
stream). The raw-asyncio baseline (asyncio.gather of as many no-op coroutines) is measured in
the same process. Target (issue 15): the page costs the engine less than 10%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _baseline import gather_per_task  # noqa: E402
from bench_server import AGENTS, HANDLERS, Conn, cpu, env, fanout, spawn, wait_run  # noqa: E402

N = 10_000
CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")
PID = [0]  # the server's process


class Browser:
    """One Chromium tab on its own thread (Playwright's sync API), signed in to the server."""

    def __init__(self, url: str, key: str) -> None:
        import queue

        self.jobs: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self.url, self.key = url, key
        threading.Thread(target=self._main, daemon=True).start()
        self.ready.wait(60)

    def _main(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(self.url + "/")
            page.fill("#key", self.key)
            page.click("#signin-form button[type=submit]")
            page.wait_for_selector("#nav:not([hidden])")
            self.ready.set()
            while (job := self.jobs.get()) is not None:
                fn, done = job
                fn(page)
                done.set()
            browser.close()

    def do(self, fn) -> None:  # type: ignore[no-untyped-def]
        done = threading.Event()
        self.jobs.put((fn, done))
        done.wait(120)

    def close(self) -> None:
        self.jobs.put(None)


async def timed(url: str, key: str, browser: Browser | None, mode: str) -> tuple[float, float]:
    """Seconds from the POST to the run's end, and the server's CPU seconds meanwhile."""
    c = Conn(url, key)
    before = cpu(PID[0])
    t = time.perf_counter()
    status, data = await c.request("POST", "/api/v1/runs", json.dumps(fanout(N)).encode())
    assert status == 201, data
    run_id = json.loads(data)["run_id"]
    if mode == "run page":
        assert browser is not None
        # opened from another thread as the run starts, as a user following it would
        threading.Thread(
            target=browser.do, args=(lambda p: p.goto(f"{url}/#/runs/{run_id}"),), daemon=True
        ).start()
    doc = await wait_run(c, run_id)
    took = time.perf_counter() - t
    used = cpu(PID[0]) - before
    c.close()
    assert doc["status"] == "completed", doc
    return took, used


async def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="podium-bench-dashboard-"))
    (work / "agents.yaml").write_text(AGENTS)
    (work / "bench_agents.py").write_text(HANDLERS)
    py = sys.executable
    print(f"bench_dashboard: 2 cores shared, load average {os.getloadavg()[0]:.2f} at start")
    raw = await gather_per_task(N)
    db = work / "bench.db"
    key = subprocess.run(
        [py, "-m", "podium", "keys", "create", "--db", str(db), "--role", "admin"],
        cwd=work, env=env(), capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    proc, url = spawn(
        [py, "-m", "podium", "serve", "--db", str(db), "--port", "0", "--agents", "agents.yaml"],
        work, work / "serve.log",
    )  # fmt: skip
    PID[0] = proc.pid
    browser = None
    try:
        await timed(url, key, None, "none")  # warm-up
        browser = Browser(url, key)
        times: dict[str, list[tuple[float, float]]] = {
            "no page": [],
            "overview open": [],
            "run page": [],
        }
        for _ in range(rounds):
            browser.do(lambda p: p.goto(url + "/#/agents"))  # a page with no event stream
            times["no page"].append(await timed(url, key, browser, "none"))
            browser.do(lambda p: p.goto(url + "/#/"))
            browser.do(lambda p: p.wait_for_selector("#live.on"))
            times["overview open"].append(await timed(url, key, browser, "overview"))
            browser.do(lambda p: p.goto(url + "/#/agents"))
            times["run page"].append(await timed(url, key, browser, "run page"))
        quiet = min(t for t, _ in times["no page"])
        quiet_cpu = min(u for _, u in times["no page"])
        for name, ts in times.items():
            best = min(t for t, _ in ts)
            used = min(u for _, u in ts)
            print(
                f"fan-out of {N:,} no-op tasks on podium serve, {name:<14} {best:.3f} s "
                f"({N / best:,.0f} tasks/s; {(best / quiet - 1) * 100:+.1f}% vs no page; "
                f"server CPU {used:.2f} s, {(used / quiet_cpu - 1) * 100:+.1f}%; "
                f"ratio to raw asyncio gather {best / N / raw:.1f}x)"
            )
        print(f"raw asyncio gather of {N:,} no-op coroutines: {raw * N * 1000:.2f} ms")
        await parts(url, key, rounds, raw)
    finally:
        if browser is not None:
            browser.close()
        proc.terminate()
        proc.wait()
    print(f"load average at the end {os.getloadavg()[0]:.2f} (target: a page costs < 10%)")


async def _stream(url: str, key: str, run_id: str) -> None:
    """What the run page's event stream asks for (rows, this run, from its first event),
    read and discarded as fast as it comes."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET /api/v1/events?format=rows&run={run_id}&last_id=0 HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    try:
        while await reader.read(1 << 20):
            pass
    finally:
        writer.close()


async def _part(url: str, key: str, mode: str) -> float:
    """The server's CPU seconds for one fan-out with the run page's requests, without a
    browser: its event stream, its loading requests (the graph and the header), or both."""
    c = Conn(url, key)
    before = cpu(PID[0])
    status, data = await c.request("POST", "/api/v1/runs", json.dumps(fanout(N)).encode())
    assert status == 201, data
    run_id = json.loads(data)["run_id"]
    watcher = asyncio.ensure_future(_stream(url, key, run_id)) if "stream" in mode else None
    if "load" in mode:
        page = Conn(url, key)
        await page.request("GET", f"/api/v1/runs/{run_id}/dag")
        await page.request("GET", f"/api/v1/runs/{run_id}?tasks=false")
        page.close()
    doc = await wait_run(c, run_id)
    used = cpu(PID[0]) - before
    if watcher is not None:
        watcher.cancel()
    c.close()
    assert doc["status"] == "completed", doc
    return used


async def parts(url: str, key: str, rounds: int, raw: float) -> None:
    """Which part of the run page costs the server: its event stream (the issue's figure)
    or loading a 10,000-task page once (the graph's shape and every task's state)."""
    modes = ("none", "stream", "load", "stream + load")
    used: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(rounds):
        for m in modes:
            used[m].append(await _part(url, key, m))
    base = sorted(used["none"])[len(used["none"]) // 2]
    for m in modes[1:]:
        mid = sorted(used[m])[len(used[m]) // 2]
        print(
            f"server CPU, median of {rounds}, run page's {m:<13} {mid:.3f} s vs {base:.3f} s "
            f"without: {(mid / base - 1) * 100:+.1f}% (ratio to raw asyncio gather "
            f"{mid / N / raw:.1f}x)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(2 if args.quick else 5))
