// podium dashboard: sign-in, the API client, the live event stream, routing, keyboard.
// Pages live in their own modules; each exports `mount(el, ctx, ...args)` returning an
// unmount function. No framework, no build step: these files are served as they are.

import { overview } from "./overview.js";
import { agents, agentPage } from "./agents.js";
import { startPage } from "./start.js";
import { runPage } from "./run.js";

const KEY = "podium.key";
const $ = (sel, root = document) => root.querySelector(sel);

export const session = { key: sessionStorage.getItem(KEY), who: null };

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** Call the API with the signed-in key; the parsed JSON, or an ApiError. */
export async function api(path, { method = "GET", body, form } = {}) {
  const headers = { Authorization: `Bearer ${session.key}` };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload });
  if (r.status === 401 && path !== "/api/v1/whoami") {
    signOut("Your key was refused (revoked or expired): sign in again.");
    throw new ApiError(401, { message: "signed out" });
  }
  const text = await r.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = { message: text }; }
  if (!r.ok) throw new ApiError(r.status, doc);
  return doc;
}

export const may = (action) => !!(session.who && session.who.may.includes(action));

/**
 * The server's event stream (server-sent events read through fetch, since EventSource cannot
 * send the key). Calls `onBatch(events)` once per chunk received, reconnects with
 * Last-Event-ID after a drop, and returns a function that stops it. With `from`, starts
 * after that event id ("0": every event the server still keeps).
 */
export function stream(query, onBatch, from = null) {
  const ctl = new AbortController();
  let last = from; // "0": the events the server still keeps first
  let stopped = false;
  async function once() {
    const headers = { Authorization: `Bearer ${session.key}` };
    if (last !== null) headers["Last-Event-ID"] = last;
    // rows: transitions in batches, a few times cheaper for the server than one event each
    const r = await fetch(`/api/v1/events?format=rows${query ? "&" + query : ""}`, { headers, signal: ctl.signal });
    if (!r.ok) throw new Error(`events: HTTP ${r.status}`);
    setLive(true);
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      const cut = buf.lastIndexOf("\n\n");
      if (cut < 0) continue;
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const batch = [];
      for (const ev of block.split("\n\n")) {
        let name = "message", data = null;
        for (const line of ev.split("\n")) {
          if (line.startsWith("id: ")) last = line.slice(4);
          else if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data = line.slice(6);
        }
        if (data === null) continue;
        if (name === "rows") { // [run_id, task, status, attempt, agent, at, error] each
          for (const [run_id, task, status, attempt, agent, at, error] of JSON.parse(data)) {
            batch.push({ kind: "task", run_id, task, status, attempt, agent, at, error });
          }
          continue;
        }
        const doc = JSON.parse(data);
        doc.kind = name;
        batch.push(doc);
      }
      if (batch.length) onBatch(batch);
    }
  }
  (async () => {
    while (!stopped) {
      try { await once(); } catch (e) { if (stopped) return; }
      setLive(false);
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  })();
  return () => { stopped = true; ctl.abort(); };
}

/** The header's connection light: on while the page's data comes in. */
export function setLive(on) {
  const live = $("#live");
  live.textContent = on ? "live" : "reconnecting";
  live.classList.toggle("on", on);
}

// -- small helpers shared by the pages ---------------------------------------------------------

export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

export const badge = (status) => h("span", { class: `badge st-${status}` }, status);

export function fmtDuration(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return "–";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtAgo(iso) {
  if (!iso) return "–";
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 60) return `${Math.max(0, Math.round(s))} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

export function toast(msg) {
  const t = $("#toast");
  t.textContent = msg;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 4000);
}

/** Run an action from a button: disabled while it runs; the server's message on failure. */
export async function act(button, fn, done) {
  button.disabled = true;
  try {
    const out = await fn();
    if (done) toast(typeof done === "function" ? done(out) : done);
    return out;
  } catch (e) {
    toast(e.message);
    return null;
  } finally {
    button.disabled = false;
  }
}

export function meter(parts, total, label) {
  const el = h("div", { class: "meter", role: "img", "aria-label": label });
  for (const [cls, n] of parts) {
    if (n > 0 && total > 0) el.append(h("span", { class: cls, style: `width:${(100 * n) / total}%` }));
  }
  return el;
}

// -- sign-in, routing, keyboard ------------------------------------------------------------------

let unmount = null;

function signOut(message) {
  sessionStorage.removeItem(KEY);
  session.key = null;
  session.who = null;
  if (unmount) { unmount(); unmount = null; }
  showSignIn(message);
}

function showSignIn(message) {
  $("#page").replaceChildren();
  $("#nav").hidden = true;
  $("#signout").hidden = true;
  $("#who").textContent = "";
  $("#signin").hidden = false;
  $("#signin-error").textContent = message || "";
  $("#key").focus();
}

async function signIn(key, quiet = false) {
  session.key = key;
  try {
    session.who = await api("/api/v1/whoami");
  } catch (e) {
    session.key = null;
    sessionStorage.removeItem(KEY);
    showSignIn(quiet ? "" : e.status === 401 ? "This key is not valid here." : e.message);
    return;
  }
  sessionStorage.setItem(KEY, key);
  $("#signin").hidden = true;
  $("#nav").hidden = false;
  $("#signout").hidden = false;
  $("#who").textContent = `${session.who.role} · ${session.who.id}`;
  $("#signout").hidden = !key;
  for (const a of document.querySelectorAll("[data-needs]")) a.hidden = !may(a.dataset.needs);
  route();
}

function route() {
  if (!session.who) return;
  if (unmount) { unmount(); unmount = null; }
  const hash = decodeURIComponent(location.hash.slice(1) || "/");
  const el = $("#page");
  el.replaceChildren();
  let page = "overview";
  let m;
  if ((m = hash.match(/^\/runs\/(.+)$/))) { page = "run"; unmount = runPage(el, m[1]); }
  else if ((m = hash.match(/^\/agents\/(.+)$/))) { page = "agents"; unmount = agentPage(el, m[1]); }
  else if (hash === "/agents") { page = "agents"; unmount = agents(el); }
  else if (hash === "/start" && may("operate")) { page = "start"; unmount = startPage(el); }
  else unmount = overview(el);
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("podium.theme", theme);
  window.dispatchEvent(new Event("podium-theme"));
}

let pendingG = false;
function onKey(e) {
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const help = $("#keys-help");
  if (e.key === "Escape" && !help.hidden) { help.hidden = true; return; }
  if (e.key === "?") { help.hidden = false; $("[data-close]", help).focus(); return; }
  if (e.key === "t") { setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"); return; }
  if (!session.who) return;
  if (pendingG) {
    pendingG = false;
    const to = { o: "#/", a: "#/agents", s: "#/start" }[e.key];
    if (to) { location.hash = to; e.preventDefault(); }
    return;
  }
  if (e.key === "g") { pendingG = true; setTimeout(() => (pendingG = false), 1500); }
}

window.addEventListener("hashchange", route);
document.addEventListener("keydown", onKey);
document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn($("#key").value.trim());
  });
  $("#signout").addEventListener("click", () => signOut(""));
  $("#theme").addEventListener("click", () =>
    setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
  $("[data-close]").addEventListener("click", () => ($("#keys-help").hidden = true));
  // no key yet: a server started with --insecure-no-auth lets everyone in, as an admin
  signIn(session.key || "", !session.key);
});
