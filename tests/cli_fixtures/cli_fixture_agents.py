"""Handlers for the CLI's fixture workflows (imported relative to the workflow files)."""

import asyncio


async def work(ctx):
    await asyncio.sleep(ctx.input.get("sleep", 0) if isinstance(ctx.input, dict) else 0)
    return {"task": ctx.task_id, "deps": sorted(ctx.deps)}


def boom(ctx):
    raise ValueError(f"boom in {ctx.task_id}")


async def slow(ctx):
    await asyncio.sleep(60)  # only ever cancelled by the test
    return None


async def stubborn(ctx):
    """Ignores cancellation (badly behaved on purpose): only a second Ctrl-C gets past it."""
    for _ in range(600):
        try:
            await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            pass


def nap(ctx):
    """A blocking sync handler (it runs in a thread) that sleeps as long as its input says."""
    import time

    time.sleep(ctx.input["seconds"])
    return "rested"
