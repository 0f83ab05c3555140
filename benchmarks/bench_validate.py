"""How long `podium validate` takes for a big workflow file: 100,000 tasks, YAML and JSON.

python benchmarks/bench_validate.py               # 100,000 tasks
python benchmarks/bench_validate.py --tasks 20000 # a smaller file

Target (issue 10): under 5 s in either format, reading, checking the limits, validating every
field and building the workflow; measured for `load_workflow` in this process and for the
whole `podium validate` command (which also builds the run and walks the graph). Measured in
the same process: the raw-asyncio baseline every benchmark prints (asyncio.gather of one
no-op coroutine per task: what it costs merely to start that many tasks), and the bare
parsers (PyYAML's libyaml loader, json.loads) that read the same file without checking
anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import yaml

from _baseline import gather_per_task, report
from podium.spec import load_workflow
from podium.spec.files import FAST_YAML


def document(n: int) -> dict[str, object]:
    tasks = []
    for i in range(n):
        task: dict[str, object] = {"id": f"t{i}", "capability": "work", "input": {"n": i}}
        if i:
            task["depends_on"] = [f"t{i // 2}"]
        if i % 10 == 0:
            task["retry"] = {"max_attempts": 3}
        tasks.append(task)
    return {
        "name": "big",
        "agents": [{"name": "w", "capabilities": ["work"], "handler": "bench_handlers:work"}],
        "tasks": tasks,
    }


def best(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best wall-clock and CPU seconds of ``repeat`` calls (CPU time says more on a busy host)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def command(path: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``podium validate FILE`` as a process of its own."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "podium", "validate", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=path.parent,
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    n = args.tasks
    per_task = asyncio.run(gather_per_task(n))
    report("raw asyncio: gather of no-ops", f"{per_task * n:.3f} s for {n:,} tasks")
    parser = "libyaml" if FAST_YAML else "pure-Python (no libyaml)"
    print(f"YAML parser: {parser}; load average {os.getloadavg()[0]:.2f}")
    doc = document(n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench_handlers.py").write_text("def work(ctx):\n    return ctx.input\n")
        sys.path.insert(0, tmp)
        files = {"yaml": folder / "big.yaml", "json": folder / "big.json"}
        files["yaml"].write_text(yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False))
        files["json"].write_text(json.dumps(doc))
        for fmt, path in files.items():
            wf = load_workflow(path)
            assert len(wf.tasks) == n
            seconds, cpu = best(lambda p=path: load_workflow(p), args.repeat)
            report(
                f"validate {n:,} tasks ({fmt})",
                f"{seconds:.2f} s ({cpu:.2f} s CPU)",
                seconds / (per_task * n),
                target="< 5 s",
            )
            cli, cpu = command(path)
            report(
                f"podium validate, {n:,} tasks ({fmt})",
                f"{cli:.2f} s ({cpu:.2f} s CPU), start-up included",
                cli / (per_task * n),
                target="< 5 s",
            )
        text = files["yaml"].read_text()
        bare, cpu = best(lambda: yaml.load(text, Loader=yaml.CSafeLoader), 1)
        report("  bare yaml.load (CSafeLoader), no checks", f"{bare:.2f} s ({cpu:.2f} s CPU)")
        text = files["json"].read_text()
        bare, cpu = best(lambda: json.loads(text), args.repeat)
        report("  bare json.loads, no checks", f"{bare:.2f} s ({cpu:.2f} s CPU)")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
