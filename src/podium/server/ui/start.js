// Start a run: upload or paste a workflow file (YAML or JSON). It is checked as you type by
// POST /api/v1/validate (the messages of `podium validate`), the error shown beside its line;
// Start sends it to POST /api/v1/runs/upload and opens the run's page.

import { api, h } from "./app.js";

const LINE = 20, PAD = 8; // the editor's line height and padding, in px (see app.css)

const EXAMPLE = `name: hello
tasks:
  - id: fetch
    capability: echo
    input: {query: "agents at work"}
  - id: summary
    capability: echo
    depends_on: [fetch]
`;

export function startPage(el) {
  const area = h("textarea", { id: "wf-text", spellcheck: "false", "aria-label": "Workflow file",
    autocomplete: "off", wrap: "off" });
  area.value = sessionStorage.getItem("podium.draft") || EXAMPLE;
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  const bubble = h("div", { class: "lineerr", id: "wf-error", role: "alert", hidden: true,
    style: "position:absolute; right:8px; max-width:60%; margin:0" });
  const name = h("input", { id: "wf-name", value: sessionStorage.getItem("podium.draftname") || "workflow.yaml",
    "aria-label": "File name (.yaml or .json)", style: "width:200px" });
  const file = h("input", { id: "wf-file", type: "file", accept: ".yaml,.yml,.json", "aria-label": "Upload a workflow file" });
  const verdict = h("p", { id: "wf-verdict", role: "status", "aria-live": "polite" });
  const start = h("button", { type: "button", class: "primary", id: "wf-start", disabled: true }, "Start run");
  const editor = h("div", { class: "editor", style: "position:relative" }, gutter, area, bubble);
  el.append(
    h("div", { class: "head" }, h("h1", {}, "Start a run")),
    h("section", { class: "card" },
      h("div", { class: "row", style: "margin-bottom:12px" },
        h("label", { for: "wf-file", style: "margin:0" }, "Upload"), file,
        h("span", { class: "hint" }, "or paste or edit below, as"), name),
      editor, verdict,
      h("div", { class: "row" }, start,
        h("span", { class: "hint" }, "Tasks go to this server's agents; handlers run only from modules the server allows."))),
  );

  let seq = 0, timer = null, valid = false;

  function lines() {
    const n = area.value.split("\n").length;
    area.rows = n + 1;
    area.style.height = `${(n + 1) * LINE + 2 * PAD}px`;
    if (gutter.childElementCount !== n) {
      gutter.replaceChildren(...Array.from({ length: n }, (_, i) => h("div", {}, String(i + 1))));
    }
  }

  function mark(err) {
    for (const d of gutter.querySelectorAll(".bad")) d.classList.remove("bad");
    if (!err) { bubble.hidden = true; return; }
    bubble.hidden = false;
    bubble.textContent = err.line ? `line ${err.line}: ${err.message}` : err.message;
    if (err.line && gutter.children[err.line - 1]) {
      gutter.children[err.line - 1].classList.add("bad");
      gutter.children[err.line - 1].title = err.message;
      bubble.style.top = `${PAD + err.line * LINE}px`;
    } else {
      bubble.style.top = `${PAD}px`;
    }
  }

  async function check() {
    const mine = ++seq;
    const form = new FormData();
    form.append("file", new Blob([area.value], { type: "text/plain" }), name.value || "workflow.yaml");
    let doc;
    try { doc = await api("/api/v1/validate", { method: "POST", form }); } catch (e) {
      if (mine !== seq) return;
      valid = false; start.disabled = true;
      mark({ message: e.message, line: null });
      verdict.textContent = "";
      return;
    }
    if (mine !== seq) return; // a newer edit is being checked
    valid = doc.valid;
    start.disabled = !valid;
    mark(valid ? null : doc.errors[0]);
    verdict.className = valid ? "ok" : "error";
    verdict.textContent = valid
      ? `Valid: workflow ${doc.workflow}, ${doc.tasks} tasks, depth ${doc.depth}.`
      : `Not valid: ${doc.errors[0].error}.`;
  }

  function edited() {
    sessionStorage.setItem("podium.draft", area.value);
    sessionStorage.setItem("podium.draftname", name.value);
    lines();
    valid = false; start.disabled = true;
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  }

  area.addEventListener("input", edited);
  name.addEventListener("input", edited);
  area.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey) { // two spaces, as YAML wants; Esc then Tab leaves
      e.preventDefault();
      area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
      edited();
    }
  });
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    area.value = await f.text();
    name.value = f.name;
    edited();
  });
  start.addEventListener("click", async () => {
    if (!valid) return;
    start.disabled = true;
    const form = new FormData();
    form.append("file", new Blob([area.value], { type: "text/plain" }), name.value || "workflow.yaml");
    try {
      const r = await api("/api/v1/runs/upload", { method: "POST", form });
      location.hash = `#/runs/${encodeURIComponent(r.run_id)}`;
    } catch (e) {
      mark(e.body && e.body.message ? { message: e.body.message, line: null } : { message: e.message });
      start.disabled = false;
    }
  });
  lines();
  check();
  return () => clearTimeout(timer);
}
