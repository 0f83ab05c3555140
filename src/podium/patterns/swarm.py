"""Swarm: several agents explore the same problem with different seeds until one succeeds.

``agents`` participants (distinct agents of the task's capability, or replicas of them) each
run attempts one after another; every attempt is a subtask ``<task>/<n>`` whose input is the
task's input plus ``seed`` (``seed + n - 1``: each attempt has its own) and ``blackboard``
(the bus topic of this swarm). After each attempt the coordinator scores the result with
``score`` (higher is better), checks ``goal`` and posts the finding on the blackboard, where
the participants can read what the others found (``await ctx.subscribe(ctx.input["blackboard"])``).

The swarm stops at the first result that meets ``goal``, or when its budget is spent:
``max_attempts`` attempts started and/or ``time_budget`` seconds (with neither, one attempt
per participant). Attempts still running then are cancelled and waiting ones skipped. The
best result by ``score`` wins (without ``score``: the first that met the goal, else the
first that finished). The result::

    {"best": ..., "score": 0.93, "goal_met": true, "attempts": 4,
     "findings": [{"attempt": 1, "agent": "a", "seed": 0, "score": 0.2, "goal_met": false,
                   "result": ...}, ...]}

A failed attempt is a finding with an ``error``; the swarm goes on. It fails only when no
attempt produced a result.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..errors import TaskFailed
from ..spec.patterns import is_number
from . import register_pattern
from ._common import COMPLETED, participants, publish, resolve, settings, settle
from ._common import subtask as make_subtask

if TYPE_CHECKING:
    from ..engine.context import Context


class _Swarm:
    def __init__(self, ctx: Context) -> None:
        s = self.s = settings(ctx)
        self.ctx = ctx
        self.goal = resolve(ctx, s.goal, "swarm.goal")
        self.score = resolve(ctx, s.score, "swarm.score")
        self.people = participants(ctx, s.agents)
        self.limit = s.max_attempts or (None if s.time_budget else len(self.people))
        self.topic = s.topic or f"swarm.{ctx.task_id}"
        self.started = 0
        self.findings: list[dict[str, Any]] = []
        self.met: dict[str, Any] | None = None  # the first finding that met the goal
        self.inflight: set[str] = set()  # ids of attempts running or waiting
        self.workers: list[asyncio.Task[None]] = []
        self.stopped: str | None = None

    async def worker(self, name: str) -> None:
        ctx, t, s = self.ctx, self.ctx.task, self.s
        while self.stopped is None and (self.limit is None or self.started < self.limit):
            self.started += 1
            n = self.started
            seed = s.seed + n - 1
            base = t.input if isinstance(t.input, dict) else {"input": t.input}
            sub = make_subtask(
                ctx,
                str(n),
                capability=t.capability,
                agent=name,
                input={**base, "seed": seed, "blackboard": self.topic},
            )
            self.inflight.add(sub.id)
            try:
                (rec,) = await settle(ctx, [sub])
            finally:
                self.inflight.discard(sub.id)
            if self.stopped is not None:
                return
            finding: dict[str, Any] = {"attempt": n, "agent": name, "seed": seed}
            if rec.status is COMPLETED:
                score = self.score(rec.result) if self.score is not None else None
                if score is not None and not is_number(score):
                    raise TaskFailed(
                        f"task {ctx.task_id!r}: swarm.score returned {score!r} for attempt "
                        f"{n}; it must return a number (higher is better).",
                        task=ctx.task_id,
                        field="swarm.score",
                    )
                met = bool(self.goal(rec.result)) if self.goal is not None else False
                finding.update(score=score, goal_met=met, result=rec.result)
            else:
                met = False
                finding["error"] = rec.error
            self.findings.append(finding)
            await publish(ctx, self.topic, finding)
            if met and self.met is None:
                self.met = finding
                self.stop(f"attempt {n} met the goal")
                return

    def stop(self, why: str) -> None:
        """End the swarm: cancel running attempts, skip waiting ones, stop the workers."""
        if self.stopped is not None:
            return
        self.stopped = why
        run = self.ctx.run
        for sid in list(self.inflight):
            rec = run.records.get(sid)
            if rec is not None:
                run.abandon(rec, f"the swarm stopped: {why}")
        me = asyncio.current_task()
        for w in self.workers:
            if w is not me:
                w.cancel()

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        timer = None
        if self.s.time_budget is not None:
            budget = self.s.time_budget
            timer = loop.call_later(budget, self.stop, f"time budget of {budget:g}s spent")
        t0 = time.monotonic()
        try:
            async with asyncio.TaskGroup() as tg:
                self.workers = [tg.create_task(self.worker(name)) for _, name in self.people]
        except ExceptionGroup as eg:  # a worker failed (a bad score function...): say why
            raise eg.exceptions[0] from None
        finally:
            if timer is not None:
                timer.cancel()
        return self.outcome(time.monotonic() - t0)

    def outcome(self, elapsed: float) -> dict[str, Any]:
        done = [f for f in self.findings if "result" in f]
        if not done:
            errors = "; ".join(f"attempt {f['attempt']}: {f['error']}" for f in self.findings)
            why = self.stopped or "every attempt failed"
            raise TaskFailed(
                f"task {self.ctx.task_id!r}: the swarm has no result after {self.started} "
                f"attempts in {elapsed:.2f}s ({why}){': ' + errors if errors else ''}",
                task=self.ctx.task_id,
            )
        if self.score is not None:
            best = max(done, key=lambda f: f["score"])  # max keeps the earliest of equals
        else:
            best = self.met or done[0]
        return {
            "best": best["result"],
            "score": best["score"],
            "goal_met": self.met is not None,
            "attempts": self.started,
            "findings": self.findings,
        }


@register_pattern("swarm")
async def coordinate(ctx: Context) -> dict[str, Any]:
    return await _Swarm(ctx).run()
