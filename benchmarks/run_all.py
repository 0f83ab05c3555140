"""Run every benchmark, each in its own process (so each measures its own raw-asyncio baseline).

python benchmarks/run_all.py            # everything
python benchmarks/run_all.py engine bus # only some: engine, await, store, bus, pipeline, llm,
                                        # ray, adapters
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = {
    "engine": "bench_engine.py",
    "await": "bench_await.py",
    "store": "bench_store.py",
    "bus": "bench_bus.py",
    "pipeline": "bench_pipeline.py",
    "llm": "bench_llm.py",
    "ray": "bench_ray.py",
    "adapters": "bench_adapters.py",
}


def main() -> int:
    names = sys.argv[1:] or list(BENCHES)
    failed = 0
    for name in names:
        script = HERE / BENCHES[name]
        if not script.exists():
            print(f"== {name}: {script.name} is missing", flush=True)
            failed += 1
            continue
        print(f"== {name}", flush=True)
        failed += subprocess.run([sys.executable, str(script)]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
