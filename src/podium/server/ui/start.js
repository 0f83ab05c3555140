// Start a run: upload or paste a workflow file, validated as you go.

import { h } from "./app.js";

export function startPage(el) {
  el.append(h("h1", {}, "Start a run"));
  return () => {};
}
