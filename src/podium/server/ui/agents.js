// The agents page: every agent with its controls (pause, resume, terminate, scale), and one
// agent's page: its recent tasks, failure rate over time and circuit-breaker state, from the
// server's event stream (its backlog first, then live).

import { act, api, badge, fmtDuration, h, may, stream } from "./app.js";
import { agentTable } from "./overview.js";

const enc = encodeURIComponent;

export function agents(el) {
  const box = h("div");
  el.append(h("div", { class: "head" }, h("h1", {}, "Agents")), h("section", { class: "card" }, box));
  let busy = false;
  const load = async () => {
    if (busy || el.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
    busy = true;
    try {
      const list = await api("/api/v1/agents");
      const table = agentTable(list);
      if (may("operate") && list.length) addControls(table, list, load);
      box.replaceChildren(table);
    } catch (e) { /* shown by the next refresh */ } finally { busy = false; }
  };
  load();
  const t = setInterval(load, 2000);
  return () => clearInterval(t);
}

function addControls(table, list, reload) {
  table.querySelector("thead tr").append(h("th", { scope: "col" }, "actions"));
  const rows = table.querySelectorAll("tbody tr");
  list.forEach((a, i) => rows[i].append(h("td", {}, controls(a, reload))));
}

/** Pause or resume, scale, terminate: what an operator may do to agent `a`. */
export function controls(a, reload) {
  const name = enc(a.name);
  const post = (path, body) => api(`/api/v1/agents/${path}`, { method: "POST", body });
  const box = h("div", { class: "row" });
  if (a.state === "paused") {
    box.append(h("button", { type: "button", class: "small", "data-action": "resume", onclick: (e) =>
      act(e.currentTarget, () => post(`${name}/resume`), `${a.name} resumed.`).then(reload) }, "Resume"));
  } else {
    box.append(h("button", { type: "button", class: "small", "data-action": "pause", onclick: (e) =>
      act(e.currentTarget, () => post(`${name}/pause`), `${a.name} paused: it takes no new tasks.`).then(reload) }, "Pause"));
  }
  const cap = h("input", { type: "number", min: "1", value: a.capacity, class: "inline-num", "aria-label": `Capacity of ${a.name}` });
  box.append(cap, h("button", { type: "button", class: "small", "data-action": "capacity", onclick: (e) =>
    act(e.currentTarget, () => post(`${name}/scale`, { capacity: Number(cap.value) }), `${a.name}: capacity ${cap.value}.`).then(reload) }, "Set capacity"));
  if (a.pool && a.replicas) {
    const lo = h("input", { type: "number", min: "0", value: a.replicas.min, class: "inline-num", "aria-label": `Fewest replicas of pool ${a.pool}` });
    const hi = h("input", { type: "number", min: "1", value: a.replicas.max, class: "inline-num", "aria-label": `Most replicas of pool ${a.pool}` });
    box.append(h("span", { class: "hint" }, "replicas"), lo, h("span", { class: "hint" }, "to"), hi,
      h("button", { type: "button", class: "small", "data-action": "scale", onclick: (e) =>
        act(e.currentTarget, () => post(`${enc(a.pool)}/scale`, { min: Number(lo.value), max: Number(hi.value) }),
          `Pool ${a.pool}: ${lo.value} to ${hi.value} replicas.`).then(reload) }, "Scale pool"));
  }
  box.append(h("button", { type: "button", class: "small danger", "data-action": "terminate", onclick: (e) => {
    if (!confirm(`Terminate agent ${a.name}? Its running tasks are retried elsewhere.`)) return;
    act(e.currentTarget, () => post(`${name}/terminate`), `${a.name} terminated.`).then(reload);
  } }, "Terminate"));
  return box;
}

const BUCKET = 10; // seconds per bar of the failure-rate chart

export function agentPage(el, agentName) {
  const head = h("div", { class: "head" }, h("h1", {}, "Agent ", h("code", {}, agentName)));
  const cards = h("div", { class: "grid" });
  const chart = h("canvas", { class: "spark", role: "img", "aria-label": `Tasks finished and failed by ${agentName} over time` });
  const note = h("p", { class: "hint" });
  const recent = h("div");
  el.append(head, cards,
    h("div", { class: "grid", style: "margin-top:16px" },
      h("section", { class: "card span-12", "aria-labelledby": "fr-h" },
        h("h2", { id: "fr-h" }, "Failure rate over time"), chart,
        h("div", { class: "legend" },
          h("span", {}, h("i", { style: "background:var(--completed)" }), "completed"),
          h("span", {}, h("i", { style: "background:var(--failed)" }), "failed")), note),
      h("section", { class: "card span-12", "aria-labelledby": "rt-h" },
        h("h2", { id: "rt-h" }, "Recent tasks"), recent)));
  const ended = []; // task events that ended an attempt, oldest first

  async function load() {
    let a;
    try { a = await api(`/api/v1/agents/${enc(agentName)}`); } catch (e) {
      cards.replaceChildren(h("p", { class: "error" }, e.message));
      return;
    }
    const title = head.querySelector("h1");
    head.replaceChildren(title, badge(a.breaker_open ? "error" : a.state), may("operate") ? controls(a, load) : "");
    const card = (label, value) => h("div", { class: "card span-3" }, h("div", { class: "stat" }, value), h("div", { class: "stat-label" }, label));
    cards.replaceChildren(
      card("load / capacity", `${a.load} / ${a.capacity}`),
      card("success rate", a.completed + a.failed ? `${(a.success_rate * 100).toFixed(1)} %` : "–"),
      card("average latency", a.completed + a.failed ? fmtDuration(a.avg_latency) : "–"),
      card("circuit breaker", a.breaker_open ? "open" : "closed"),
    );
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = chart.clientWidth, hgt = chart.clientHeight;
    chart.width = w * dpr; chart.height = hgt * dpr;
    const g = chart.getContext("2d");
    g.scale(dpr, dpr);
    const css = getComputedStyle(document.documentElement);
    const buckets = new Map();
    for (const ev of ended) {
      const b = Math.floor(ev.at / BUCKET);
      const s = buckets.get(b) || { ok: 0, bad: 0 };
      if (ev.status === "completed") s.ok++; else s.bad++;
      buckets.set(b, s);
    }
    const now = Math.floor(Date.now() / 1000 / BUCKET), n = 60;
    let max = 1, ok = 0, bad = 0;
    for (let i = 0; i < n; i++) { const s = buckets.get(now - i); if (s) { max = Math.max(max, s.ok + s.bad); ok += s.ok; bad += s.bad; } }
    const bw = w / n;
    for (let i = 0; i < n; i++) {
      const s = buckets.get(now - n + 1 + i);
      if (!s) continue;
      const okH = (s.ok / max) * (hgt - 2), badH = (s.bad / max) * (hgt - 2);
      g.fillStyle = css.getPropertyValue("--completed"); g.fillRect(i * bw, hgt - okH, Math.max(1, bw - 1), okH);
      g.fillStyle = css.getPropertyValue("--failed"); g.fillRect(i * bw, hgt - okH - badH, Math.max(1, bw - 1), badH);
    }
    note.textContent = ok + bad ? `${bad} of ${ok + bad} attempts failed (${((100 * bad) / (ok + bad)).toFixed(1)} %) in the last ${n * BUCKET / 60} minutes`
      : "No task ended on this agent in the last 10 minutes (that this server still remembers).";
    const rows = ended.slice(-50).reverse();
    recent.replaceChildren(rows.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["at", "run", "task", "attempt", "status", "error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((ev) => h("tr", {},
        h("td", {}, new Date(ev.at * 1000).toLocaleTimeString()),
        h("td", {}, h("a", { href: `#/runs/${enc(ev.run_id)}` }, ev.run_id)),
        h("td", {}, ev.task), h("td", { class: "num" }, String(ev.attempt)), h("td", {}, badge(ev.status)),
        h("td", { class: "wrap" }, (ev.error || "").slice(0, 160))))))
      : h("p", { class: "empty" }, "No recent tasks."));
  }

  const stop = stream(`agent=${enc(agentName)}`, (batch) => {
    for (const ev of batch) {
      if (ev.kind === "task" && ev.at && ["completed", "failed", "retrying"].includes(ev.status)) ended.push(ev);
      if (ev.kind === "event") load();
    }
    if (ended.length > 5000) ended.splice(0, ended.length - 5000);
    draw();
  }, "0");
  load();
  draw();
  const timers = [setInterval(load, 2000), setInterval(draw, 5000)];
  return () => { stop(); timers.forEach(clearInterval); };
}
