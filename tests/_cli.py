"""Running the podium CLI as a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_json(path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``podium run PATH --json [ARGS]`` from the workflow file's folder."""
    return subprocess.run(
        [sys.executable, "-m", "podium", "run", str(path), "--json", *args],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=timeout,
    )
