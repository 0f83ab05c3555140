"""The agents of other frameworks through podium against the same framework driven by raw
asyncio, both calling the fixture chat-completions server (tests/llm_fixture.py) in its own
process.

python benchmarks/bench_adapters.py            # both
python benchmarks/bench_adapters.py autogen    # one of: autogen crewai

- autogen: 200 tasks, 20 at a time, each a fresh AssistantAgent (``kind: autogen`` naming a
  function); raw: the same agents' ``run_stream()`` in a pool of 20 worker Tasks.
- crewai: 60 tasks, 10 at a time, each a copy of one single-agent crew; raw: the same copies'
  ``kickoff_async()`` in a pool of 10 worker Tasks (``kickoff_for_each_async`` has no bound,
  so it is not the yardstick). CrewAI runs each kickoff in a thread.

The figure is milliseconds per task, best of 3 (the two sides' rounds in turn), and the
ratio podium / raw (1.00x: no overhead).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_STORAGE_DIR", "podium-bench")

import podium
from _baseline import report

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "llm_fixture.py"
ANSWER = "Thought: I now can give a great answer\nFinal Answer: ok"


class Server:
    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(FIXTURE), "--delay", str(delay), "--text", ANSWER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(10)


async def bounded(n: int, limit: int, one) -> None:
    """``one(i)`` for i < n, ``limit`` at a time: a pool of hand-written worker Tasks (the
    yardstick DESIGN.md names for handlers that await I/O)."""
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            await one(i)

    async with asyncio.TaskGroup() as tg:
        for _ in range(limit):
            tg.create_task(worker())


def best_of(raw, ours, rounds: int = 3) -> tuple[float, float]:
    """The best time of each, their rounds taken in turn (so a load that comes and goes, or
    a first call's warm-up, does not land on one side only)."""
    best = [float("inf"), float("inf")]
    for r in range(rounds * 2):
        side = r % 2 if (r // 2) % 2 == 0 else 1 - r % 2  # raw, ours, ours, raw, raw, ours
        t = time.perf_counter()
        (raw, ours)[side]()
        best[side] = min(best[side], time.perf_counter() - t)
    return best[0], best[1]


def bench_autogen(url: str, n: int = 200, limit: int = 20) -> None:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    from podium.agents.kinds.autogen import AutoGenAgent

    info = {"vision": False, "function_calling": True, "json_output": False,
            "family": "unknown", "structured_output": False}  # fmt: skip
    client = OpenAIChatCompletionClient(model="m", base_url=url, api_key="x", model_info=info)

    def make() -> AssistantAgent:
        return AssistantAgent("writer", model_client=client)

    async def raw() -> None:
        async def one(i: int) -> None:
            async for _ in make().run_stream(task=f"task {i}"):  # what podium runs
                pass

        await bounded(n, limit, one)

    orch = podium.Orchestrator()
    orch.register(AutoGenAgent(make, capabilities=["w"], capacity=limit))
    wf = podium.Workflow("b")
    for i in range(n):
        wf.task(f"t{i}", capability="w", input=f"task {i}")

    raw_s, ours = (t / n for t in best_of(lambda: asyncio.run(raw()), lambda: orch.run_sync(wf)))
    report(f"autogen: {n} tasks, {limit} at once", f"{ours * 1e3:.2f} ms/task", ours / raw_s)
    report("autogen: raw, 20 worker Tasks", f"{raw_s * 1e3:.2f} ms/task")


def bench_crewai(url: str, n: int = 60, limit: int = 10) -> None:
    from crewai import LLM, Agent, Crew, Task

    from podium.agents.kinds.crewai import CrewAIAgent

    llm = LLM(model="m", provider="openai", base_url=url, api_key="x")
    agent = Agent(role="Writer", goal="Write", backstory="A writer.", llm=llm)
    crew = Crew(
        agents=[agent],
        tasks=[Task(description="Write about {topic}", expected_output="a line", agent=agent)],
    )

    async def raw() -> None:
        async def one(i: int) -> None:
            await crew.copy().kickoff_async(inputs={"topic": f"topic {i}"})

        await bounded(n, limit, one)

    orch = podium.Orchestrator()
    orch.register(CrewAIAgent(crew, name="crew", capabilities=["w"], capacity=limit))
    wf = podium.Workflow("b")
    for i in range(n):
        wf.task(f"t{i}", capability="w", input={"topic": f"topic {i}"})

    raw_s, ours = (t / n for t in best_of(lambda: asyncio.run(raw()), lambda: orch.run_sync(wf)))
    report(f"crewai: {n} tasks, {limit} at once", f"{ours * 1e3:.2f} ms/task", ours / raw_s)
    report("crewai: raw, 10 worker Tasks", f"{raw_s * 1e3:.2f} ms/task")


def main() -> None:
    which = sys.argv[1:] or ["autogen", "crewai"]
    print(f"load: {os.getloadavg()[0]:.2f} (1 min)")
    server = Server(delay=0.05)
    try:
        if "autogen" in which:
            bench_autogen(server.url)
        if "crewai" in which:
            bench_crewai(server.url)
    finally:
        server.close()


if __name__ == "__main__":
    main()
