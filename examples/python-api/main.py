"""A workflow built and run from Python: a decorator agent, a class agent, retries."""

import asyncio
import random

import podium

orch = podium.Orchestrator()


@orch.agent(name="searcher", capabilities=["search"], capacity=4)
async def search(ctx):
    await asyncio.sleep(0.01)
    # a flaky service: the first attempt of one query fails, the retry succeeds
    if ctx.input == "quorum" and ctx.attempt == 1:
        raise ConnectionError("search service timed out")
    rng = random.Random(ctx.input)
    return {"query": ctx.input, "hits": rng.randint(1, 50)}


class Editor(podium.Agent):
    """A class agent: its own state, set up once before the run."""

    capabilities = ["edit"]

    async def setup(self):
        self.house_style = "- "

    def handle(self, ctx):
        found = sorted(ctx.deps.values(), key=lambda r: -r["hits"])
        return "\n".join(f"{self.house_style}{r['query']}: {r['hits']} hits" for r in found)


orch.register(Editor(name="editor"))


def build() -> podium.Workflow:
    wf = podium.Workflow("digest")
    queries = ["raft", "paxos", "quorum"]
    for q in queries:
        wf.task(q, capability="search", input=q, retry={"max_attempts": 3, "initial_delay": 0.05})
    wf.task("digest", capability="edit", depends_on=queries)
    return wf


if __name__ == "__main__":
    result = orch.run_sync(build())
    print(result.status)
    print(result["digest"])
    quorum = result.tasks["quorum"]
    print(f"quorum took {quorum.attempts} attempts")
