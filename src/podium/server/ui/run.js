// A run's page: the DAG live, the timeline per agent, the critical path, the event feed.

import { h } from "./app.js";

export function runPage(el, runId) {
  el.append(h("h1", {}, `Run ${runId}`));
  return () => {};
}
