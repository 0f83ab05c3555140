"""The demo with LLM agents: an LLM writer and reviewers when OPENAI_BASE_URL points to a model
(the fixture server here; a real model in the optional test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_fixture import ChatServer, Reply

pytest.importorskip("openai")

REPORT = "# Coordinating concurrent work\n\n## Summary\n\nAn LLM wrote this.\n"


def answer(body: dict) -> Reply:
    system = body["messages"][0]["content"]
    if "technical writer" in system:
        return Reply(text=REPORT, chunks=3)
    vote = "reject" if "600 words" in body["messages"][-1]["content"] else "approve"
    return Reply(text=json.dumps({"vote": vote, "reasons": ["checked"]}))


def demo(tmp_path: Path, env: dict[str, str], timeout: float = 120) -> tuple[dict, str]:
    p = subprocess.run(
        [sys.executable, "-m", "podium", "demo", "--out", "r.md", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=timeout,
        env={**os.environ, **env},
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout), (tmp_path / "r.md").read_text()


def test_the_demo_uses_llm_agents_when_a_model_is_configured(tmp_path: Path) -> None:
    with ChatServer(answer) as srv:
        doc, report = demo(tmp_path, {"OPENAI_BASE_URL": srv.url, "PODIUM_DEMO_MODEL": "tiny"})
        models = {r["body"]["model"] for r in srv.requests}
    assert doc["status"] == "completed" and doc["workflow"] == "research-report-llm"
    assert doc["tasks"]["write"]["result"]["model"] == "tiny"
    assert doc["tasks"]["write"]["usage"]["calls"] == 1
    assert doc["stats"]["usage"]["calls"] == 4  # the writer and three reviewers
    assert models == {"tiny"}
    assert report.startswith("# Coordinating concurrent work")
    assert "An LLM wrote this." in report
    assert "**Verdict: approved**: 2 of 3 reviewers approve" in report


def test_the_demo_stays_offline_without_a_model(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    p = subprocess.run(
        [sys.executable, "-m", "podium", "demo", "--out", "r.md", "--json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["workflow"] == "research-report" and "usage" not in doc["stats"]


@pytest.mark.skipif(
    not os.environ.get("PODIUM_LLM_BASE_URL"),
    reason="set PODIUM_LLM_BASE_URL (and PODIUM_LLM_MODEL, OPENAI_API_KEY if needed) to run "
    "the demo with a real model",
)
def test_the_demo_with_a_real_model(tmp_path: Path) -> None:
    env = {
        "OPENAI_BASE_URL": os.environ["PODIUM_LLM_BASE_URL"],
        "PODIUM_DEMO_MODEL": os.environ.get("PODIUM_LLM_MODEL", "gpt-4o-mini"),
    }
    doc, report = demo(tmp_path, env, timeout=900)
    assert doc["stats"]["usage"]["total_tokens"] > 0
    assert doc["tasks"]["write"]["result"]["words"] > 20
    assert "## Review" in report
