// The task drawer: a task's input, result, error with its traceback, attempts, agent,
// timings, and a pattern task's participants (votes, bids, stages, delegated subtasks).

import { api, badge, fmtDuration, h } from "./app.js";

let current = null; // {runId, taskId, el, back}

const json = (v) => h("pre", {}, v === undefined ? "–" : JSON.stringify(v, null, 2));

export async function openDrawer(runId, taskId, { onTask, refresh = false } = {}) {
  const back = current ? current.back : document.activeElement;
  const scroll = current && refresh ? current.el.scrollTop : 0;
  const hadFocus = !!current && current.el.contains(document.activeElement);
  closeDrawer(false);
  const heading = h("h2", { id: "drawer-title", tabindex: "-1" }, taskId);
  const body = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const el = h("aside", { class: "drawer", role: "dialog", "aria-labelledby": "drawer-title", "data-task": taskId },
    h("div", { class: "head" }, heading, h("span", { class: "spacer" }),
      h("button", { type: "button", class: "ghost", "aria-label": "Close", onclick: () => closeDrawer() }, "Close ✕")),
    body);
  el.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); closeDrawer(); } });
  document.body.append(el);
  current = { runId, taskId, el, back };
  if (!refresh || hadFocus) heading.focus();
  let t;
  try {
    t = await api(`/api/v1/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId).replace(/%2F/g, "/")}`);
  } catch (e) {
    body.replaceChildren(h("p", { class: "error" }, e.message));
    return;
  }
  if (!current || current.el !== el) return;
  const started = t.started_at ? Date.parse(t.started_at) / 1000 : null;
  const finished = t.finished_at ? Date.parse(t.finished_at) / 1000 : null;
  const link = (id) => h("button", { type: "button", class: "small", onclick: () => onTask && onTask(id) }, id);
  const parts = [
    h("dl", {},
      h("dt", {}, "status"), h("dd", {}, badge(t.status)),
      h("dt", {}, "agent"), h("dd", {}, t.agent || "–"),
      h("dt", {}, "route"), h("dd", {}, t.route || "–", t.pattern ? ` (pattern: ${t.pattern})` : ""),
      h("dt", {}, "attempts"), h("dd", {}, String(t.attempts ?? 0)),
      h("dt", {}, "started"), h("dd", {}, t.started_at || "–"),
      h("dt", {}, "finished"), h("dd", {}, t.finished_at || "–"),
      h("dt", {}, "duration"), h("dd", {}, started && finished ? fmtDuration(finished - started) : "–"),
      h("dt", {}, "depends on"), h("dd", { class: "row" }, ...(t.deps && t.deps.length ? t.deps.map(link) : ["–"]))),
  ];
  if (t.error) {
    parts.push(h("h3", {}, "Error"), h("div", { class: "errbox", id: "task-error" },
      h("strong", {}, t.error),
      t.traceback ? h("details", { open: true }, h("summary", {}, "Traceback"), h("pre", { class: "traceback" }, t.traceback))
        : h("p", { class: "hint" }, "No traceback was recorded for this error.")));
  }
  if (t.logs && t.logs.length) {
    parts.push(h("h3", {}, "Output"), h("pre", { class: "task-logs" },
      t.logs.slice(-200).map((l) => `${(l.at || "").slice(11, 23)} #${l.attempt} ${l.stream}: ${l.text}`).join("\n")));
  }
  parts.push(h("h3", {}, "Input"), json(t.input));
  if (t.status === "completed" || t.result !== null) parts.push(h("h3", {}, "Result"), json(t.result));
  if (t.participants && t.participants.length) {
    parts.push(h("h3", {}, "Participants"), h("table", { id: "participants" },
      h("thead", {}, h("tr", {}, ["subtask", "agent", "status", "result or error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, t.participants.map((p) => h("tr", {},
        h("td", {}, link(p.id)), h("td", {}, p.agent || "–"), h("td", {}, badge(p.status)),
        h("td", { class: "wrap" }, p.error || JSON.stringify(p.result).slice(0, 160)))))));
  }
  if (t.history && t.history.length) {
    parts.push(h("h3", {}, "Attempts"), h("table", {},
      h("thead", {}, h("tr", {}, ["#", "status", "agent", "at", "error"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, t.history.map((e) => h("tr", {},
        h("td", {}, String(e.attempt ?? "")), h("td", {}, badge(e.status)), h("td", {}, e.agent || "–"),
        h("td", {}, (e.at || "").slice(11, 23)),
        h("td", { class: "wrap" }, e.error || "",
          e.traceback ? h("details", {}, h("summary", {}, "traceback"), h("pre", {}, e.traceback)) : ""))))));
  }
  body.replaceChildren(...parts);
  el.scrollTop = scroll;
}

/** The task whose drawer is open (to refresh it when the task changes), or null. */
export function drawerTask() {
  return current ? current.taskId : null;
}

export function closeDrawer(restore = true) {
  if (!current) return;
  current.el.remove();
  if (restore && current.back && current.back.focus) current.back.focus();
  current = null;
}
