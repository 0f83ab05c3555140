"""The agents of the demo workflow: offline and deterministic (no model, no network, no key).

    librarian (index)       reads the bundled corpus and counts terms
    researcher-N (research) ranks passages for one sub-question by TF-IDF
    analyst (analysis)      merges the findings: distinct sources, themes, counts
    writer (write)          composes the Markdown report
    Reviewer (review)       one rubric per agent (``metadata.rubric``), votes approve/reject
    moderator (consensus)   counts the votes

Handlers find their inputs among ``ctx.deps`` by shape rather than by task id, so the
workflow file can rename tasks freely.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from importlib import resources
from typing import Any

from ..agents.agent import Agent

__all__ = [
    "Reviewer",
    "analyse",
    "build_index",
    "load_corpus",
    "research",
    "tally",
    "terms",
    "write",
]

SEARCH_LATENCY = 0.15  # seconds a research task waits, as a remote search service would
REVIEW_LATENCY = 0.05

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_STOPWORDS = frozenset(
    """a about after again all also an and any are as at be because been before being between
    both but by can cannot could do does each either even every few for from further had has
    have how if in into is it its itself just may might more most much must no nor not of on
    once one only or other our out over own same should simply so some such than that the
    their them then there these they this those through to too under until up very was way
    we well were what when where whether which while who why will with within without would
    you your""".split()  # noqa: SIM905 - a word list reads better as text
)


def _stem(word: str) -> str:
    """A deliberately small stemmer: enough for 'retries' to meet 'retry'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("ied"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` without stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def terms(text: str) -> list[str]:
    """Stemmed words of ``text``: what the search compares."""
    return [_stem(w) for w in words(text)]


def _norm(text: str) -> str:
    return " ".join(text.split())


def load_corpus() -> list[dict[str, Any]]:
    """The bundled articles: file name, title (first line) and passages (paragraphs)."""
    folder = resources.files("podium.demo").joinpath("corpus")
    docs = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".txt"):
            continue
        title, _, body = entry.read_text(encoding="utf-8").partition("\n")
        passages = [_norm(p) for p in body.split("\n\n") if p.strip()]
        docs.append({"file": entry.name, "title": title.strip(), "passages": passages})
    return docs


def _find(ctx: Any, key: str, what: str) -> list[Any]:
    found = [v for v in ctx.deps.values() if isinstance(v, dict) and key in v]
    if not found:
        raise ValueError(
            f"task {ctx.task_id!r} needs {what} among its dependencies: add that task to its "
            "depends_on."
        )
    return found


# -- librarian -------------------------------------------------------------------------------


def build_index(ctx: Any) -> dict[str, Any]:
    """Read the corpus and count, for each term, the passages it appears in."""
    docs = load_corpus()
    if not docs:
        raise FileNotFoundError("the demo corpus is empty: reinstall podium")
    df: Counter[str] = Counter()
    n = 0
    for doc in docs:
        for passage in doc["passages"]:
            df.update(set(terms(passage)))
            n += 1
    return {"documents": docs, "passages": n, "df": dict(df)}


# -- researchers ---------------------------------------------------------------------------


async def research(ctx: Any) -> dict[str, Any]:
    """Rank the corpus's passages for one sub-question; keep the best passage per document.

    Input: ``question``, ``keywords`` (weighted double), ``top_k`` (default 3), ``cutoff``
    (drop passages scoring under this share of the best one, default 0.3) and
    ``fail_first_attempt`` (raise on attempt 1, to show retries and failover).
    """
    question = ctx.input.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"task {ctx.task_id!r}: input.question must be a non-empty string")
    keywords = ctx.input.get("keywords") or []
    top_k = int(ctx.input.get("top_k", 3))
    cutoff = float(ctx.input.get("cutoff", 0.3))
    index = _find(ctx, "documents", "the index task")[0]
    await asyncio.sleep(SEARCH_LATENCY)
    if ctx.input.get("fail_first_attempt") and ctx.attempt == 1:
        raise ConnectionError(f"search service unavailable on {ctx.agent} (a planned failure)")

    weights: Counter[str] = Counter(terms(question))
    for kw in keywords:
        for t in terms(kw):
            weights[t] += 2
    n, df = index["passages"], index["df"]
    idf = {t: math.log((n + 1) / (df.get(t, 0) + 1)) + 1.0 for t in weights}

    best: dict[str, dict[str, Any]] = {}
    for doc in index["documents"]:
        for passage in doc["passages"]:
            toks = terms(passage)
            tf = Counter(toks)
            hits = {t: weights[t] * tf[t] * idf[t] for t in weights if tf[t]}
            if not hits:
                continue
            score = sum(hits.values()) / math.sqrt(len(toks))
            if score > best.get(doc["file"], {}).get("score", 0.0):
                shown = _surface(passage)
                best[doc["file"]] = {
                    "file": doc["file"],
                    "title": doc["title"],
                    "score": round(score, 3),
                    "quote": _best_sentence(passage, weights),
                    "matched": [shown[t] for t in sorted(hits, key=lambda t: -hits[t])],
                    "passage": passage,
                }
    findings = sorted(best.values(), key=lambda f: (-f["score"], f["file"]))[:top_k]
    if findings:
        floor = findings[0]["score"] * cutoff
        findings = [f for f in findings if f["score"] >= floor]
    return {
        "question": question,
        "keywords": list(keywords),
        "findings": findings,
        "searched": n,
    }


def _surface(passage: str) -> dict[str, str]:
    """Each term of a passage mapped to the first word that produced it, for display."""
    out: dict[str, str] = {}
    for w in words(passage):
        out.setdefault(_stem(w), w)
    return out


def _best_sentence(passage: str, weights: Counter[str]) -> str:
    """The sentence that matches most; a short one keeps the next sentence for context."""
    sentences = _SENTENCE.split(passage)
    scores = [sum(weights[t] for t in set(terms(s))) for s in sentences]
    i = scores.index(max(scores))
    if len(sentences[i].split()) < 12 and i + 1 < len(sentences):
        return f"{sentences[i]} {sentences[i + 1]}"
    return sentences[i]


# -- analyst -------------------------------------------------------------------------------


def analyse(ctx: Any) -> dict[str, Any]:
    """Merge the researchers' findings: distinct sources ranked by score, themes, counts."""
    reports = _find(ctx, "findings", "at least one research task")
    sources: dict[str, dict[str, Any]] = {}
    themes: Counter[str] = Counter()  # matched terms: findings they appear in
    weight: Counter[str] = Counter()  # and the summed scores of those findings, to rank them
    shown: dict[str, str] = {}  # the shortest word seen for each term
    n_findings = 0
    for i, rep in enumerate(reports, 1):
        for f in rep["findings"]:
            n_findings += 1
            src = sources.setdefault(
                f["file"],
                {
                    "file": f["file"],
                    "title": f["title"],
                    "cited": 0,
                    "best": 0.0,
                    "total": 0.0,
                    "questions": [],
                },
            )
            src["cited"] += 1
            src["total"] = round(src["total"] + f["score"], 3)
            src["best"] = max(src["best"], f["score"])
            if i not in src["questions"]:
                src["questions"].append(i)
            for w in f["matched"]:
                t = _stem(w)
                themes[t] += 1
                weight[t] += f["score"]
                if len(w) < len(shown.get(t, w + " ")):
                    shown[t] = w
    ranked = sorted(sources.values(), key=lambda s: (-s["total"], s["file"]))
    return {
        "questions": [
            {"question": r["question"], "keywords": r["keywords"], "findings": r["findings"]}
            for r in reports
        ],
        "sources": ranked,
        "themes": [
            [shown[t], themes[t]] for t in sorted(themes, key=lambda t: (-weight[t], t))[:8]
        ],
        "counts": {
            "questions": len(reports),
            "findings": n_findings,
            "sources": len(sources),
            "repeat_citations": n_findings - len(sources),
            "passages_searched": max((r.get("searched", 0) for r in reports), default=0),
        },
    }


# -- writer --------------------------------------------------------------------------------


def write(ctx: Any) -> dict[str, Any]:
    """Compose the Markdown report: title, summary, findings per question, sources table."""
    a = _find(ctx, "sources", "the analysis task")[0]
    title = ctx.input.get("title") or "Research report"
    max_quotes = int(ctx.input.get("max_quotes", 2))
    counts = a["counts"]
    themes = [w for w, _ in a["themes"][:5]]
    top = a["sources"][0] if a["sources"] else None

    lines = [f"# {title}", "", "## Summary", ""]
    summary = (
        f"This report answers {counts['questions']} questions with {counts['findings']} "
        f"findings drawn from {counts['sources']} of the corpus's articles "
        f"({counts['passages_searched']} passages searched)."
    )
    if top:
        summary += f" The strongest source is *{top['title']}* (`{top['file']}`)."
    if themes:
        summary += f" Recurring themes: {_join(themes)}."
    lines += [summary, "", "## Findings", ""]

    sections, citations = [], []
    for i, q in enumerate(a["questions"], 1):
        lines += [f"### {i}. {q['question']}", ""]
        shown = q["findings"][:max_quotes]
        if not shown:
            lines += ["No passage in the corpus answers this question.", ""]
        for f in shown:
            lines += [
                f"> {f['quote']}",
                "",
                f"— *{f['title']}* (`{f['file']}`, score {f['score']:.2f}; "
                f"matched: {', '.join(f['matched'][:4])})",
                "",
            ]
            citations.append({"file": f["file"], "quote": f["quote"]})
        sections.append(
            {"question": q["question"], "quotes": len(shown), "sources": [f["file"] for f in shown]}
        )

    lines += ["## Sources", "", "| # | title | file | cited | best score |", "|" + "---|" * 5]
    for n, s in enumerate(a["sources"], 1):
        lines.append(f"| {n} | {s['title']} | `{s['file']}` | {s['cited']} | {s['best']:.2f} |")
    markdown = "\n".join(lines) + "\n"
    return {
        "title": title,
        "markdown": markdown,
        "words": len(markdown.split()),
        "sections": sections,
        "citations": citations,
        "sources": [s["file"] for s in a["sources"]],
        "themes": themes,
    }


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- reviewers -----------------------------------------------------------------------------


class Reviewer(Agent):
    """A reviewer that applies one rubric, chosen by ``metadata.rubric``:

    - ``coverage``: every question has at least ``min_findings`` quotes (default 1) and the
      summary names at least three themes;
    - ``citations``: every quote appears word for word in the file it cites, and every source
      in the table is a corpus file;
    - ``brevity``: the report has its sections and at most ``max_words`` words (default 600).
    """

    async def handle(self, ctx: Any) -> dict[str, Any]:
        report = _find(ctx, "markdown", "the write task")[0]
        rubric = self.metadata.get("rubric")
        check = _RUBRICS.get(rubric)  # type: ignore[arg-type]
        if check is None:
            raise ValueError(
                f"agent {self.name!r}: metadata.rubric is {rubric!r}; use one of "
                f"{', '.join(_RUBRICS)}"
            )
        await asyncio.sleep(REVIEW_LATENCY)
        problems, notes = check(report, self.metadata)
        return {
            "reviewer": self.name,
            "rubric": rubric,
            "vote": "reject" if problems else "approve",
            "reasons": problems or notes,
        }


def _coverage(report: dict[str, Any], meta: dict[str, Any]) -> tuple[list[str], list[str]]:
    need = int(meta.get("min_findings", 1))
    thin = [s["question"] for s in report["sections"] if s["quotes"] < need]
    problems = [f"fewer than {need} quotes for: {q}" for q in thin]
    if len(report["themes"]) < 3:
        problems.append(f"the summary names {len(report['themes'])} themes; 3 or more expected")
    notes = [
        f"all {len(report['sections'])} questions have at least {need} quotes",
        f"themes named: {', '.join(report['themes'])}",
    ]
    return problems, notes


def _citations(report: dict[str, Any], meta: dict[str, Any]) -> tuple[list[str], list[str]]:
    texts = {d["file"]: " ".join(d["passages"]) for d in load_corpus()}
    problems = []
    for c in report["citations"]:
        if c["file"] not in texts:
            problems.append(f"cites {c['file']!r}, which is not in the corpus")
        elif _norm(c["quote"]) not in texts[c["file"]]:
            problems.append(f"quote not found in {c['file']}: {c['quote'][:60]!r}")
    for f in report["sources"]:
        if f not in texts:
            problems.append(f"the sources table lists {f!r}, which is not in the corpus")
    files = {c["file"] for c in report["citations"]}
    notes = [f"{len(report['citations'])} quotes checked word for word in {len(files)} files"]
    return problems, notes


def _brevity(report: dict[str, Any], meta: dict[str, Any]) -> tuple[list[str], list[str]]:
    limit = int(meta.get("max_words", 600))
    md = report["markdown"]
    problems = [
        f"missing section {h!r}"
        for h in ("## Summary", "## Findings", "## Sources")
        if f"\n{h}\n" not in md
    ]
    if report["words"] > limit:
        problems.append(f"{report['words']} words; this rubric allows at most {limit}")
    notes = [f"{report['words']} words (limit {limit}), all sections present"]
    return problems, notes


_RUBRICS = {"coverage": _coverage, "citations": _citations, "brevity": _brevity}


# -- moderator -----------------------------------------------------------------------------


def tally(ctx: Any) -> dict[str, Any]:
    """Count the reviewers' votes. ``input.rule``: ``majority`` (default) or ``unanimous``."""
    votes = _find(ctx, "vote", "review tasks")
    rule = ctx.input.get("rule", "majority")
    if rule not in ("majority", "unanimous"):
        raise ValueError(f"task {ctx.task_id!r}: input.rule must be 'majority' or 'unanimous'")
    approve = sum(1 for v in votes if v["vote"] == "approve")
    needed = len(votes) if rule == "unanimous" else len(votes) // 2 + 1
    return {
        "verdict": "approved" if approve >= needed else "rejected",
        "rule": rule,
        "approve": approve,
        "reject": len(votes) - approve,
        "needed": needed,
        "votes": votes,
    }
