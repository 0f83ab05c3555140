"""Handlers of the fan-in example: three loaders, a merge and a report."""

import asyncio

SOURCES = {
    "sales.csv": [("north", 120), ("south", 80)],
    "stock.csv": [("north", 40), ("south", 65), ("east", 10)],
    "returns.csv": [("south", 5)],
}


async def load(ctx):
    """Read one source (a real loader would fetch a file or query a database)."""
    await asyncio.sleep(0.05)
    rows = SOURCES[ctx.input["source"]]
    return {"source": ctx.input["source"], "rows": [list(r) for r in rows]}


def merge(ctx):
    """Total per region over every loaded source."""
    totals = {}
    for loaded in ctx.deps.values():
        for region, amount in loaded["rows"]:
            totals[region] = totals.get(region, 0) + amount
    return totals


def report(ctx):
    totals = ctx.deps["merge"]
    lines = [f"{region}: {amount}" for region, amount in sorted(totals.items())]
    return "\n".join(lines)
