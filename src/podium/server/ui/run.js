// A run's page, live: the DAG coloured by state, the timeline per agent, the critical path,
// the failures, the event feed, the task drawer, and the run's actions.
//
// State: one record per task ({status, agent, attempt, start, end, error}), filled from the
// run's document, then moved on by the run's event stream. Stream events that arrive before
// the document (or repeat what it says) are applied only when they move a task forward, so the
// order of the two never shows a task going back.

import { act, api, badge, fmtDuration, h, may, meter, session, stream, toast } from "./app.js";
import { Dag, FINAL, criticalPath } from "./dag.js";
import { drawerTask, openDrawer } from "./drawer.js";
import { Timeline } from "./timeline.js";

const RANK = { pending: 0, ready: 1, running: 2, retrying: 3, completed: 4, failed: 4, skipped: 4, cancelled: 4 };
const FEED_KEEP = 300;

export function runPage(el, runId) {
  const t0 = performance.now();
  const state = new Map(); // task id -> record
  let doc = null, dag = null, timeline = null, tasks = [], early = [], stopped = false, received = 0;
  let refreshDrawer = null;
  const arrivals = []; // [when, transitions] of each batch from the stream, for measurements
  const feed = [];
  const enc = encodeURIComponent(runId);

  const title = h("h1", {}, "Run ", h("code", {}, runId));
  const status = h("span");
  const progress = h("div", { style: "flex:1; min-width:200px" });
  const actions = h("div", { class: "actions" });
  const canvas = h("canvas", { tabindex: "0", role: "img", id: "dag", "aria-label": "The run's tasks as a graph" });
  const tip = h("div", { class: "tip" });
  const failures = h("div", { class: "failures", id: "failures" });
  const cpath = h("div", { class: "cpath", id: "critical-path" });
  const feedBox = h("div", { class: "feed", id: "feed", role: "log", "aria-label": "Events", tabindex: "0" });
  const tlCanvas = h("canvas", { class: "timeline", role: "img", "aria-label": "Tasks over time per agent" });
  const find = h("input", { id: "find", type: "search", placeholder: "Find a task (/)", "aria-label": "Find a task", list: "task-ids" });
  const ids = h("datalist", { id: "task-ids" });
  const zoom = (f) => () => dag && (f === 0 ? dag.fit() : dag.zoom(f));

  el.append(
    h("div", { class: "head" }, title, status, progress, actions),
    h("div", { class: "run-layout" },
      h("div", {},
        h("section", { class: "card", "aria-labelledby": "dag-h" },
          h("div", { class: "head", style: "margin-bottom:8px" },
            h("h2", { id: "dag-h", style: "margin:0" }, "Graph"),
            h("span", { class: "spacer" }),
            h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); show(find.value.trim()); } }, find, ids),
            legend()),
          h("div", { class: "dag-wrap" }, canvas, tip,
            h("div", { class: "dag-tools" },
              h("button", { type: "button", class: "small", onclick: zoom(1.25), "aria-label": "Zoom in" }, "+"),
              h("button", { type: "button", class: "small", onclick: zoom(0.8), "aria-label": "Zoom out" }, "−"),
              h("button", { type: "button", class: "small", onclick: zoom(0), "aria-label": "Fit the graph" }, "Fit"))),
          h("h3", {}, "Failed tasks"), failures,
          h("h3", {}, "Critical path"), cpath),
        h("section", { class: "card", style: "margin-top:16px", "aria-labelledby": "tl-h" },
          h("h2", { id: "tl-h" }, "Timeline per agent"), tlCanvas)),
      h("section", { class: "card", "aria-labelledby": "feed-h" },
        h("h2", { id: "feed-h" }, "Events"), feedBox)),
  );

  const show = (id) => {
    if (!id) return;
    if (!state.has(id) && !(dag && dag.focus(id))) { toast(`No task ${id} in this run.`); return; }
    if (dag) dag.focus(id);
    openDrawer(runId, id, { onTask: show });
  };

  const statusOf = (id) => (state.get(id) || {}).status || "pending";

  function apply(ev) {
    const rec = state.get(ev.task);
    const at = ev.at || Date.now() / 1000;
    if (!rec) {
      state.set(ev.task, { status: ev.status, agent: ev.agent, attempt: ev.attempt || 0,
        start: ev.status === "running" ? at : null, end: FINAL.has(ev.status) ? at : null, error: ev.error || null });
      if (timeline && ev.agent && ev.status === "running") timeline.open(ev.task, ev.agent, at);
      return true;
    }
    const newer = (ev.attempt || 0) > rec.attempt ||
      ((ev.attempt || 0) === rec.attempt && RANK[ev.status] >= RANK[rec.status] && ev.status !== rec.status);
    if (!newer) return false;
    rec.status = ev.status;
    rec.attempt = ev.attempt || rec.attempt;
    if (ev.agent) rec.agent = ev.agent;
    if (ev.status === "running") { rec.start = at; rec.end = null; }
    if (FINAL.has(ev.status) || ev.status === "retrying") rec.end = at;
    if (ev.error) rec.error = ev.error;
    if (timeline && ev.agent) {
      if (ev.status === "running") timeline.open(ev.task, ev.agent, at);
      else if (ev.status !== "ready" && ev.status !== "pending") timeline.close(ev.task, ev.status, at);
    }
    return true;
  }

  let pending = false;
  function changed() {
    if (dag) dag.dirty = true;
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; if (!stopped) renderSide(); }, 250);
  }

  const stopStream = stream(`run=${enc}`, (batch) => {
    received += batch.length;
    arrivals.push([performance.now(), batch.length]);
    if (arrivals.length > 5000) arrivals.shift();
    if (!doc) { early.push(...batch); return; }
    let ended = false;
    for (const ev of batch) {
      if (ev.kind === "task") { apply(ev); feed.push(ev); }
      else if (ev.kind === "run") { ended = true; feed.push(ev); doc.status = ev.status; }
      else feed.push(ev);
    }
    if (feed.length > FEED_KEEP * 2) feed.splice(0, feed.length - FEED_KEEP);
    const open = drawerTask();
    if (open && batch.some((ev) => ev.task === open || (ev.task || "").startsWith(open + "/"))) {
      clearTimeout(refreshDrawer);
      refreshDrawer = setTimeout(() => {
        if (drawerTask() === open) openDrawer(runId, open, { onTask: show, refresh: true });
      }, 400);
    }
    changed();
    if (ended) setTimeout(reload, 300);
  }, "0"); // from the first of this run's events the server still keeps: the feed's history

  // the tasks' states come with the graph (compact, no results); the run's document without
  // its tasks gives the header
  function merge(states) {
    for (const [id, status, agent, attempts, start, end, error] of states) {
      const rec = state.get(id);
      const fresh = { status, agent, attempt: attempts || 0, start: start ?? null, end: end ?? null, error };
      if (!rec || fresh.attempt > rec.attempt || (fresh.attempt === rec.attempt && RANK[fresh.status] >= RANK[rec.status])) state.set(id, fresh);
    }
  }

  async function reload(full = true) {
    try {
      if (full) merge((await api(`/api/v1/runs/${enc}/dag`)).states);
      doc = await api(`/api/v1/runs/${enc}?tasks=false`);
    } catch (e) { return; }
    renderHead();
    changed();
  }

  async function load() {
    let shape;
    try {
      [shape] = await Promise.all([api(`/api/v1/runs/${enc}/dag`), reload(false)]);
      merge(shape.states);
    } catch (e) {
      el.replaceChildren(h("h1", {}, "Run not found"), h("p", { class: "error" }, e.message), h("a", { href: "#/" }, "Back to the overview"));
      return;
    }
    if (!doc || stopped) return;
    tasks = shape.tasks;
    title.replaceChildren("Run ", h("code", {}, runId), " ", h("span", { class: "hint" }, shape.workflow));
    for (const ev of early) if (ev.kind === "task") { apply(ev); feed.push(ev); }
    early = [];
    ids.replaceChildren(...tasks.slice(0, 2000).map((t) => h("option", { value: t.id })));
    dag = new Dag(canvas, tasks, {
      status: statusOf,
      onOpen: (id) => openDrawer(runId, id, { onTask: show }),
      onHover: (t, x, y) => {
        if (!t) { tip.style.display = "none"; return; }
        const rec = state.get(t.id) || {};
        tip.textContent = `${t.id} · ${rec.status || "pending"}${rec.agent ? " · " + rec.agent : ""}`;
        tip.style.display = "block"; tip.style.left = `${x + 12}px`; tip.style.top = `${y + 12}px`;
      },
    });
    timeline = new Timeline(tlCanvas, state, doc, (id) => openDrawer(runId, id, { onTask: show }));
    renderSide();
    window.podium = { runId, state, dag, timeline, loadedMs: performance.now() - t0,
      received: () => received, arrivals: () => arrivals };
    performance.mark("podium-run-drawn");
    canvas.setAttribute("data-ready", "true");
  }

  function liveCounts() {
    const c = {};
    for (const rec of state.values()) c[rec.status] = (c[rec.status] || 0) + 1;
    return c;
  }

  function renderHead() {
    if (!doc) return;
    const c = liveCounts();
    const total = Math.max(doc.total || 0, state.size);
    const done = (c.completed || 0) + (c.failed || 0) + (c.skipped || 0) + (c.cancelled || 0);
    status.replaceChildren(badge(doc.status));
    status.id = "run-status";
    progress.replaceChildren(h("div", { class: "row" },
      meter([["completed", c.completed || 0], ["failed", c.failed || 0], ["skipped", (c.skipped || 0) + (c.cancelled || 0)], ["running", c.running || 0]],
        total, `${done} of ${total} tasks done`),
      h("span", { class: "hint", id: "run-progress" }, `${done}/${total} done · ${c.failed || 0} failed`)));
    actions.replaceChildren();
    if (may("operate") && doc.status === "running") {
      actions.append(h("button", { type: "button", class: "danger", id: "cancel-run", onclick: (e) => {
        if (!confirm(`Cancel run ${runId}? Running tasks are stopped.`)) return;
        act(e.currentTarget, () => api(`/api/v1/runs/${enc}/cancel`, { method: "POST" }), (r) => `Run ${r.status}.`).then(reload);
      } }, "Cancel run"));
    }
    if (may("operate") && ["failed", "cancelled", "partial", "budget_exceeded"].includes(doc.status)) {
      actions.append(h("button", { type: "button", class: "primary", id: "resume-run", onclick: (e) =>
        act(e.currentTarget, () => api(`/api/v1/runs/${enc}/resume`, { method: "POST" }), "Run resumed.").then(reload),
      }, "Resume run"));
    }
    actions.append(h("button", { type: "button", onclick: report }, "HTML report"));
  }

  async function report() {
    const r = await fetch(`/api/v1/runs/${enc}/report`, { headers: { Authorization: `Bearer ${session.key}` } });
    const url = URL.createObjectURL(new Blob([await r.text()], { type: "text/html" }));
    window.open(url, "_blank");
  }

  function renderSide() {
    renderHead();
    const failed = [];
    for (const [id, rec] of state) if (rec.status === "failed") failed.push([id, rec]);
    failures.replaceChildren(...(failed.length ? failed.slice(0, 50).map(([id, rec]) =>
      h("button", { type: "button", class: "small", "data-task": id, title: rec.error || "", onclick: () => show(id) }, `✕ ${id}`))
      : [h("span", { class: "hint" }, "None.")]),
      failed.length > 50 ? h("span", { class: "hint" }, `and ${failed.length - 50} more`) : "");
    if (dag) {
      const now = Date.now() / 1000;
      const { path, length } = criticalPath(tasks, dag.graph, (id) => {
        const r = state.get(id);
        if (!r || r.start === null) return 0;
        return Math.max(0, (r.end ?? (FINAL.has(r.status) ? r.start : now)) - r.start);
      });
      dag.critical = new Set(path);
      const shown = path.length > 12 ? [...path.slice(0, 5), null, ...path.slice(-5)] : path;
      cpath.replaceChildren(h("span", { class: "hint" }, `${fmtDuration(length)} ·`),
        ...shown.map((id) => id === null ? h("span", {}, "…") :
          h("button", { type: "button", class: `small st-${statusOf(id)}`, onclick: () => show(id) }, id)));
      canvas.setAttribute("aria-label", `The run's ${tasks.length} tasks as a graph: ` +
        Object.entries(liveCounts()).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", "));
    }
    const rows = feed.slice(-150).reverse().map((ev) => {
      const when = ev.at ? new Date(ev.at * 1000).toLocaleTimeString() : "";
      if (ev.kind === "task") {
        return h("div", { class: `st-${ev.status}` }, `${when} `,
          h("button", { type: "button", onclick: () => show(ev.task) }, ev.task), ` ${ev.status}`,
          ev.agent ? ` on ${ev.agent}` : "", ev.error ? ` — ${String(ev.error).slice(0, 120)}` : "");
      }
      if (ev.kind === "run") return h("div", { class: `st-${ev.status}` }, `${when} run ${ev.status}`);
      return h("div", {}, `${when} ${ev.event}${ev.agent ? " " + ev.agent : ""}`);
    });
    feedBox.replaceChildren(...rows);
    if (timeline) timeline.dirty = true;
  }

  function onKey(e) {
    const t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") { e.preventDefault(); find.focus(); }
    else if (e.key === "f") {
      const failed = [...state].filter(([, r]) => r.status === "failed").map(([id]) => id);
      if (!failed.length) { toast("No failed task."); return; }
      onKey.i = ((onKey.i ?? -1) + 1) % failed.length;
      show(failed[onKey.i]);
    } else if (dag && document.activeElement !== canvas && ["+", "-", "0"].includes(e.key)) {
      e.key === "0" ? dag.fit() : dag.zoom(e.key === "-" ? 0.8 : 1.25);
    }
  }
  document.addEventListener("keydown", onKey);
  const redraw = () => { if (dag) dag.dirty = true; if (timeline) timeline.dirty = true; };
  window.addEventListener("podium-theme", redraw);
  const tick = setInterval(() => { if (doc && doc.status === "running") changed(); }, 1000);
  load();
  return () => {
    stopped = true;
    stopStream();
    clearInterval(tick);
    document.removeEventListener("keydown", onKey);
    window.removeEventListener("podium-theme", redraw);
    if (dag) dag.stop();
    if (timeline) timeline.stop();
    document.querySelector(".drawer")?.remove();
  };
}

function legend() {
  return h("div", { class: "legend", "aria-label": "Colours" },
    ["pending", "running", "retrying", "completed", "failed", "skipped", "cancelled"].map((s) =>
      h("span", {}, h("i", { style: `background:var(--${s})` }), s)));
}
