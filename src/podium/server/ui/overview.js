// The overview: agents, runs in progress, recent runs, throughput and failures.

import { api, badge, fmtAgo, fmtDuration, h, meter, setLive } from "./app.js";

const WINDOW = 600; // seconds of throughput shown
const BUCKET = 5; // seconds per bar

export function overview(el) {
  const stats = h("div", { class: "grid" });
  const spark = h("canvas", { class: "spark", role: "img", "aria-label": "Tasks finished and failed per 5 seconds, last 10 minutes" });
  const sparkNote = h("p", { class: "hint", id: "throughput-note" });
  const agentsBox = h("div");
  const activeBox = h("div");
  const recentBox = h("div");
  el.append(
    h("div", { class: "head" }, h("h1", {}, "Overview")),
    stats,
    h("div", { class: "grid", style: "margin-top:16px" },
      h("section", { class: "card span-6", "aria-labelledby": "tp-h" },
        h("h2", { id: "tp-h" }, "Throughput and failures"),
        spark,
        h("div", { class: "legend" },
          h("span", {}, h("i", { style: "background:var(--completed)" }), "completed"),
          h("span", {}, h("i", { style: "background:var(--failed)" }), "failed")),
        sparkNote),
      h("section", { class: "card span-6", "aria-labelledby": "act-h" },
        h("h2", { id: "act-h" }, "Runs in progress"), activeBox),
      h("section", { class: "card span-12", "aria-labelledby": "ag-h" },
        h("h2", { id: "ag-h" }, "Agents"), agentsBox),
      h("section", { class: "card span-12", "aria-labelledby": "rec-h" },
        h("h2", { id: "rec-h" }, "Recent runs"), recentBox)),
  );

  // throughput: the server counts finished and failed tasks per 5 s over the last 10 minutes
  // (no event stream: an open overview costs the engine nothing per transition)
  let buckets = new Map();
  async function sample() {
    let doc;
    try { doc = await api("/api/v1/throughput"); } catch (e) { setLive(false); return; }
    setLive(true);
    buckets = new Map(doc.buckets.map(([start, ok, bad]) => [Math.floor(start / BUCKET), { ok, bad }]));
    drawSpark();
  }

  function drawSpark() {
    const dpr = window.devicePixelRatio || 1;
    const w = spark.clientWidth, hgt = spark.clientHeight;
    spark.width = w * dpr; spark.height = hgt * dpr;
    const g = spark.getContext("2d");
    g.scale(dpr, dpr);
    const css = getComputedStyle(document.documentElement);
    const now = Math.floor(Date.now() / 1000 / BUCKET);
    const n = WINDOW / BUCKET;
    let max = 1, total = 0, failed = 0;
    for (let i = 0; i < n; i++) {
      const s = buckets.get(now - i);
      if (s) { max = Math.max(max, s.ok + s.bad); total += s.ok; failed += s.bad; }
    }
    const bw = w / n;
    for (let i = 0; i < n; i++) {
      const s = buckets.get(now - n + 1 + i);
      if (!s) continue;
      const okH = (s.ok / max) * (hgt - 2), badH = (s.bad / max) * (hgt - 2);
      g.fillStyle = css.getPropertyValue("--completed");
      g.fillRect(i * bw, hgt - okH, Math.max(1, bw - 1), okH);
      g.fillStyle = css.getPropertyValue("--failed");
      g.fillRect(i * bw, hgt - okH - badH, Math.max(1, bw - 1), badH);
    }
    sparkNote.textContent = `${total} completed, ${failed} failed in the last ${WINDOW / 60} minutes` +
      ` · ${(total / WINDOW).toFixed(1)} tasks/s on average`;
  }

  function statCard(label, value, id) {
    return h("div", { class: "card span-3" }, h("div", { class: "stat", id }, value), h("div", { class: "stat-label" }, label));
  }

  async function refresh() {
    let st, ags, running, recent;
    try {
      [st, ags, running, recent] = await Promise.all([
        api("/api/v1/stats"),
        api("/api/v1/agents"),
        api("/api/v1/runs?status=running&limit=20"),
        api("/api/v1/runs?limit=15"),
      ]);
    } catch (e) { return; }
    const rate = st.success_rate === null ? "–" : `${(st.success_rate * 100).toFixed(1)} %`;
    stats.replaceChildren(
      statCard("agents", ags.length, "stat-agents"),
      statCard("runs in progress", running.runs.length, "stat-active"),
      statCard("tasks completed / failed", `${st.completed_tasks} / ${st.failed_tasks}`, "stat-tasks"),
      statCard("success rate", rate, "stat-rate"),
    );
    agentsBox.replaceChildren(agentTable(ags));
    const docs = await Promise.all(running.runs.map((r) =>
      api(`/api/v1/runs/${encodeURIComponent(r.run_id)}?tasks=false`).catch(() => null)));
    activeBox.replaceChildren(activeTable(docs.filter(Boolean)));
    recentBox.replaceChildren(runTable(recent.runs));
  }

  refresh();
  sample();
  const timers = [setInterval(refresh, 2000), setInterval(sample, 2000)];
  const redraw = () => drawSpark();
  window.addEventListener("podium-theme", redraw);
  return () => { timers.forEach(clearInterval); window.removeEventListener("podium-theme", redraw); };
}

export function agentTable(ags) {
  if (!ags.length) return h("p", { class: "empty" }, "No agents registered.");
  return h("table", {},
    h("thead", {}, h("tr", {}, ["agent", "kind", "state", "load", "capabilities", "success", "avg latency", "done / failed", "heartbeat"]
      .map((c, i) => h("th", { class: i >= 5 && i < 8 ? "num" : null, scope: "col" }, c)))),
    h("tbody", {}, ags.map((a) => h("tr", { "data-agent": a.name },
      h("td", {}, h("a", { href: `#/agents/${encodeURIComponent(a.name)}` }, a.name)),
      h("td", {}, a.kind || "python"),
      h("td", {}, badge(a.breaker_open ? "error" : a.state), a.breaker_open ? " breaker open" : ""),
      h("td", {}, h("div", { class: "row meter-row" },
        meter([["load", a.load]], a.capacity, `load ${a.load} of ${a.capacity}`), `${a.load}/${a.capacity}`)),
      h("td", { class: "wrap" }, a.capabilities.join(", ")),
      h("td", { class: "num" }, a.completed + a.failed ? `${(a.success_rate * 100).toFixed(1)} %` : "–"),
      h("td", { class: "num" }, a.completed + a.failed ? fmtDuration(a.avg_latency) : "–"),
      h("td", { class: "num" }, `${a.completed} / ${a.failed}`),
      h("td", {}, a.heartbeat_age === undefined ? "–" : `${fmtDuration(a.heartbeat_age)} ago`),
    ))));
}

function activeTable(docs) {
  if (!docs.length) return h("p", { class: "empty" }, "Nothing is running.");
  return h("table", {},
    h("thead", {}, h("tr", {}, ["run", "workflow", "progress", "", "started"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, docs.map((d) => {
      const c = d.counts || {};
      const done = (c.completed || 0) + (c.failed || 0) + (c.skipped || 0) + (c.cancelled || 0);
      return h("tr", { "data-run": d.run_id },
        h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(d.run_id)}` }, d.run_id)),
        h("td", {}, d.workflow),
        h("td", { style: "width:40%" }, meter(
          [["completed", c.completed || 0], ["failed", c.failed || 0], ["skipped", (c.skipped || 0) + (c.cancelled || 0)], ["running", c.running || 0]],
          d.total, `${done} of ${d.total} tasks done`)),
        h("td", { class: "num" }, `${done}/${d.total}`),
        h("td", {}, fmtAgo(d.started_at)));
    })));
}

export function runTable(runs) {
  if (!runs.length) return h("p", { class: "empty" }, "No runs yet.");
  return h("table", {},
    h("thead", {}, h("tr", {}, ["run", "workflow", "status", "tasks", "duration", "started"]
      .map((c, i) => h("th", { scope: "col", class: i === 3 || i === 4 ? "num" : null }, c)))),
    h("tbody", {}, runs.map((r) => h("tr", { "data-run": r.run_id },
      h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(r.run_id)}` }, r.run_id)),
      h("td", {}, r.workflow),
      h("td", {}, badge(r.interrupted ? "interrupted" : r.status)),
      h("td", { class: "num" }, r.total),
      h("td", { class: "num" }, r.status === "running" ? "running" : fmtDuration(r.duration)),
      h("td", {}, fmtAgo(r.started_at)),
    ))));
}
