"""Handlers of the patterns example."""

import podium


def review(ctx):
    strict = ctx.agent == "grumpy"
    return {"verdict": "reject" if strict else "accept", "by": ctx.agent}


class Printer(podium.Agent):
    async def bid(self, task):  # the lowest bid wins; None declines
        return self.metadata["price_per_page"] * task.input["pages"]

    async def handle(self, ctx):
        return {"printed": ctx.input["pages"], "by": self.name}


def shout(ctx):
    return ctx.input.upper()


def exclaim(ctx):
    return ctx.input + "!"
