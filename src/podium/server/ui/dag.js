// The run's DAG on a canvas: layered left to right by depth, coloured by task state, redrawn
// at most once a frame however many transitions arrive.
//
// Readable at 10,000 tasks: a layer with more than NODE_LIMIT tasks is drawn as clusters, one
// per route (capability or agent), each a grid of small cells (one per task) under a header
// with its counts, and edges join clusters rather than tasks. A graph of more than MAX_COLUMNS
// layers puts consecutive layers in one column of clusters, so it never becomes a thin strip. Pan with the mouse or the arrow
// keys, zoom with the wheel or + and -; labels appear once they are large enough to read.

const NODE_LIMIT = 40; // tasks in one layer drawn as boxes; above that, as clusters of cells
const NODE_W = 150, NODE_H = 26, NODE_GAP = 10, LAYER_GAP = 70;
const CELL = 8, CELL_GAP = 2, CLUSTER_PAD = 8, CLUSTER_HEAD = 20, CLUSTER_GAP = 16;
const MAX_COLUMNS = 24; // more layers than this: consecutive layers share a column
const ASPECT = 1.6; // clusters are shaped so that the graph is about this much wider than tall
const MIN_CELL_COLS = 2;
const FINAL = new Set(["completed", "failed", "skipped", "cancelled"]);

/** Depth of every task (longest path from a root), in topological order. */
export function layers(tasks) {
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const indeg = new Int32Array(tasks.length);
  const children = tasks.map(() => []);
  tasks.forEach((t, i) => {
    for (const d of t.deps) {
      const j = index.get(d);
      if (j === undefined) continue;
      indeg[i]++;
      children[j].push(i);
    }
  });
  const depth = new Int32Array(tasks.length);
  const order = [];
  for (let i = 0; i < tasks.length; i++) if (!indeg[i]) order.push(i);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    for (const c of children[i]) {
      depth[c] = Math.max(depth[c], depth[i] + 1);
      if (--indeg[c] === 0) order.push(c);
    }
  }
  return { depth, order, index, children };
}

export class Dag {
  constructor(canvas, tasks, { status, onOpen, onHover }) {
    this.canvas = canvas;
    this.tasks = tasks;
    this.status = status; // (id) -> state string
    this.onOpen = onOpen;
    this.onHover = onHover;
    this.critical = new Set();
    this.selected = null;
    this.scale = 1; this.tx = 0; this.ty = 0;
    this.dirty = true;
    this.frames = 0;
    this.layout();
    this.bind();
    this.fit();
    const loop = () => {
      if (this.stopped) return;
      if (this.dirty) { this.dirty = false; this.draw(); this.frames++; }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  stop() { this.stopped = true; this.ro.disconnect(); }

  layout() {
    const { depth, order, index } = layers(this.tasks);
    this.graph = { depth, order, index };
    const byLayer = [];
    for (const i of order) (byLayer[depth[i]] ||= []).push(i);
    // a long graph: consecutive layers share a column, so that it fits about MAX_COLUMNS wide
    const per = Math.ceil(byLayer.length / MAX_COLUMNS);
    const columns = [];
    for (let k = 0; k < byLayer.length; k += per) {
      columns.push({ ids: byLayer.slice(k, k + per).flat(), first: k, last: Math.min(byLayer.length, k + per) - 1 });
    }
    for (const c of columns) c.clustered = per > 1 || c.ids.length > NODE_LIMIT;
    // clusters' rows: as many as make the whole graph about ASPECT times as wide as it is tall
    const cells = columns.reduce((n, c) => n + (c.clustered ? c.ids.length : 0), 0);
    const gaps = columns.length * ((LAYER_GAP + 2 * CLUSTER_PAD) / (CELL + CELL_GAP));
    const rowsWanted = (gaps + Math.sqrt(gaps * gaps + 4 * ASPECT * cells)) / (2 * ASPECT);
    this.pos = new Float32Array(this.tasks.length * 2); // centre of each task (node or cell)
    this.boxes = []; // {x, y, w, h, ids, route, cluster, cols, column}
    this.boxOf = new Int32Array(this.tasks.length);
    this.columnOf = [];
    let x = 0;
    for (const [ci, col] of columns.entries()) {
      const ids = col.ids;
      const blocks = [];
      if (!col.clustered) {
        for (const i of ids) blocks.push({ w: NODE_W, h: NODE_H, ids: [i], route: this.tasks[i].route, cluster: false });
      } else {
        const groups = new Map();
        for (const i of ids) {
          const r = this.tasks[i].route;
          if (!groups.has(r)) groups.set(r, []);
          groups.get(r).push(i);
        }
        for (const [route, g] of groups) {
          const cols = Math.min(g.length, Math.max(Math.ceil(g.length / rowsWanted), MIN_CELL_COLS));
          const rows = Math.ceil(g.length / cols);
          blocks.push({
            w: Math.max(cols * (CELL + CELL_GAP) - CELL_GAP + 2 * CLUSTER_PAD, 40),
            h: rows * (CELL + CELL_GAP) - CELL_GAP + 2 * CLUSTER_PAD + CLUSTER_HEAD,
            ids: g, route, cluster: true, cols,
            layers: per > 1 ? [col.first + 1, col.last + 1] : null,
          });
        }
      }
      const gap = col.clustered ? CLUSTER_GAP : NODE_GAP;
      const height = blocks.reduce((s, b) => s + b.h, 0) + gap * (blocks.length - 1);
      const width = Math.max(...blocks.map((b) => b.w));
      let y = -height / 2;
      for (const b of blocks) {
        b.x = x + (width - b.w) / 2;
        b.y = y;
        b.column = ci;
        const k = this.boxes.length;
        this.boxes.push(b);
        b.ids.forEach((i, n) => {
          this.boxOf[i] = k;
          if (b.cluster) {
            const cx = b.x + CLUSTER_PAD + (n % b.cols) * (CELL + CELL_GAP) + CELL / 2;
            const cy = b.y + CLUSTER_HEAD + CLUSTER_PAD + Math.floor(n / b.cols) * (CELL + CELL_GAP) + CELL / 2;
            this.pos[2 * i] = cx; this.pos[2 * i + 1] = cy;
          } else {
            this.pos[2 * i] = b.x + b.w / 2; this.pos[2 * i + 1] = b.y + b.h / 2;
          }
        });
        y += b.h + gap;
      }
      x += width + LAYER_GAP;
    }
    // edges: task to task between boxes, cluster to cluster (once per pair) otherwise
    const seen = new Set();
    this.edges = [];
    this.tasks.forEach((t, i) => {
      const bi = this.boxOf[i];
      for (const d of t.deps) {
        const j = index.get(d);
        if (j === undefined) continue;
        const bj = this.boxOf[j];
        if (this.boxes[bi].column === this.boxes[bj].column) continue; // inside a column: not drawn
        if (this.boxes[bi].cluster || this.boxes[bj].cluster) {
          const key = bj * 1e6 + bi;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        this.edges.push([bj, bi, j, i]);
      }
    });
    this.extent = { x0: -20, x1: x - LAYER_GAP + 20, y0: Math.min(...this.boxes.map((b) => b.y)) - 20,
                    y1: Math.max(...this.boxes.map((b) => b.y + b.h)) + 20 };
  }

  fit() {
    const w = this.canvas.clientWidth || 800, h = this.canvas.clientHeight || 500;
    const e = this.extent;
    this.scale = Math.min(1.25, w / (e.x1 - e.x0), h / (e.y1 - e.y0));
    this.tx = (w - (e.x1 - e.x0) * this.scale) / 2 - e.x0 * this.scale;
    this.ty = (h - (e.y1 - e.y0) * this.scale) / 2 - e.y0 * this.scale;
    this.dirty = true;
  }

  zoom(f, cx, cy) {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    cx ??= w / 2; cy ??= h / 2;
    const s = Math.max(0.02, Math.min(8, this.scale * f));
    this.tx = cx - ((cx - this.tx) * s) / this.scale;
    this.ty = cy - ((cy - this.ty) * s) / this.scale;
    this.scale = s;
    this.dirty = true;
  }

  pan(dx, dy) { this.tx += dx; this.ty += dy; this.dirty = true; }

  /** Centre the view on task `id` and select it. */
  focus(id) {
    const i = this.graph.index.get(id);
    if (i === undefined) return false;
    this.selected = i;
    this.scale = Math.max(this.scale, 1);
    this.tx = this.canvas.clientWidth / 2 - this.pos[2 * i] * this.scale;
    this.ty = this.canvas.clientHeight / 2 - this.pos[2 * i + 1] * this.scale;
    this.dirty = true;
    return true;
  }

  /** Where task `id` is drawn, in CSS pixels of the canvas (for tests and tooltips). */
  screenOf(id) {
    const i = this.graph.index.get(id);
    if (i === undefined) return null;
    return { x: this.pos[2 * i] * this.scale + this.tx, y: this.pos[2 * i + 1] * this.scale + this.ty };
  }

  hit(px, py) {
    const x = (px - this.tx) / this.scale, y = (py - this.ty) / this.scale;
    for (const b of this.boxes) {
      if (x < b.x || x > b.x + b.w || y < b.y || y > b.y + b.h) continue;
      if (!b.cluster) return b.ids[0];
      const col = Math.floor((x - b.x - CLUSTER_PAD) / (CELL + CELL_GAP));
      const row = Math.floor((y - b.y - CLUSTER_HEAD - CLUSTER_PAD) / (CELL + CELL_GAP));
      if (col < 0 || row < 0 || col >= b.cols) return null;
      const n = row * b.cols + col;
      return n < b.ids.length ? b.ids[n] : null;
    }
    return null;
  }

  bind() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; c.setPointerCapture(e.pointerId); });
    c.addEventListener("pointermove", (e) => {
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) { this.pan(dx, dy); drag.x = e.clientX; drag.y = e.clientY; }
        return;
      }
      const r = c.getBoundingClientRect();
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      this.onHover(i === null ? null : this.tasks[i], e.clientX - r.left, e.clientY - r.top);
    });
    c.addEventListener("pointerup", (e) => {
      const was = drag; drag = null;
      if (!was || was.moved) return;
      const r = c.getBoundingClientRect();
      const i = this.hit(e.clientX - r.left, e.clientY - r.top);
      if (i !== null) { this.selected = i; this.dirty = true; this.onOpen(this.tasks[i].id); }
    });
    c.addEventListener("pointerleave", () => this.onHover(null));
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    c.addEventListener("keydown", (e) => {
      const step = 60;
      const k = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[e.key];
      if (k) { this.pan(...k); e.preventDefault(); }
      else if (e.key === "+" || e.key === "=") this.zoom(1.25);
      else if (e.key === "-") this.zoom(0.8);
      else if (e.key === "0") this.fit();
      else if (e.key === "Enter" && this.selected !== null) this.onOpen(this.tasks[this.selected].id);
    });
    this.ro = new ResizeObserver(() => { this.dirty = true; });
    this.ro.observe(c);
  }

  colours() {
    const css = getComputedStyle(document.documentElement);
    const get = (n) => css.getPropertyValue(`--${n}`).trim();
    return {
      pending: get("pending"), ready: get("ready"), running: get("running"), retrying: get("retrying"),
      completed: get("completed"), failed: get("failed"), skipped: get("skipped"), cancelled: get("cancelled"),
      line: get("line"), text: get("text"), muted: get("muted"), panel: get("panel"), accent: get("accent"),
    };
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    const col = this.colours();
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.tx, dpr * this.ty);
    const vx0 = -this.tx / this.scale, vy0 = -this.ty / this.scale;
    const vx1 = vx0 + w / this.scale, vy1 = vy0 + h / this.scale;
    const visible = (b) => b.x + b.w >= vx0 && b.x <= vx1 && b.y + b.h >= vy0 && b.y <= vy1;
    // edges
    g.lineWidth = 1 / this.scale;
    g.strokeStyle = col.line;
    g.beginPath();
    const crit = [];
    const curved = this.scale > 0.3; // zoomed out, straight lines draw much faster and look the same
    for (const [bj, bi, j, i] of this.edges) {
      const a = this.boxes[bj], b = this.boxes[bi];
      if (!visible(a) && !visible(b)) continue;
      const x0 = a.x + a.w, y0 = a.cluster ? a.y + a.h / 2 : this.pos[2 * j + 1];
      const x1 = b.x, y1 = b.cluster ? b.y + b.h / 2 : this.pos[2 * i + 1];
      if (!a.cluster && !b.cluster && this.critical.has(this.tasks[j].id) && this.critical.has(this.tasks[i].id)) {
        crit.push([x0, y0, x1, y1]);
        continue;
      }
      g.moveTo(x0, y0);
      if (curved) g.bezierCurveTo(x0 + 30, y0, x1 - 30, y1, x1, y1);
      else g.lineTo(x1, y1);
    }
    g.stroke();
    if (crit.length) {
      g.strokeStyle = col.accent; g.lineWidth = 2.5 / Math.max(this.scale, 0.5);
      g.beginPath();
      for (const [x0, y0, x1, y1] of crit) { g.moveTo(x0, y0); g.bezierCurveTo(x0 + 30, y0, x1 - 30, y1, x1, y1); }
      g.stroke();
    }
    const labels = this.scale * NODE_H >= 14;
    g.textBaseline = "middle";
    const text = []; // [text, x, y, max width (world units), colour, font]
    for (const b of this.boxes) {
      if (!visible(b)) continue;
      if (!b.cluster) {
        const i = b.ids[0], t = this.tasks[i], st = this.status(t.id);
        g.fillStyle = col[st] || col.pending;
        g.beginPath(); g.roundRect(b.x, b.y, b.w, b.h, 5); g.fill();
        if (st === "failed" || this.critical.has(t.id) || this.selected === i) {
          g.lineWidth = (this.selected === i ? 3 : 2) / Math.max(this.scale, 0.5);
          g.strokeStyle = this.selected === i ? col.text : st === "failed" ? col.text : col.accent;
          g.stroke();
        }
        if (!labels && this.boxes.length <= 200) { // too small to hold its name: under it
          text.push([t.id, b.x, b.y + b.h + 9 / this.scale, Math.max(b.w, 100 / this.scale), col.muted, "11px"]);
        } else if (labels) {
          const mark = st === "failed" ? "✕ " : st === "completed" ? "✓ " : "";
          text.push([mark + t.id, b.x + 6, b.y + b.h / 2, b.w - 12, ink(col[st] || col.pending), "12px"]);
        }
        continue;
      }
      // a cluster: header with its counts, then one cell per task
      g.fillStyle = col.panel; g.strokeStyle = col.line; g.lineWidth = 1 / this.scale;
      g.beginPath(); g.roundRect(b.x, b.y, b.w, b.h, 6); g.fill(); g.stroke();
      // one path per state: thousands of cells cost a few fills, not one each
      const counts = {}, paths = {};
      for (const i of b.ids) {
        const st = this.status(this.tasks[i].id);
        counts[st] = (counts[st] || 0) + 1;
        (paths[st] ||= new Path2D()).rect(this.pos[2 * i] - CELL / 2, this.pos[2 * i + 1] - CELL / 2, CELL, CELL);
      }
      for (const [st, path] of Object.entries(paths)) {
        g.fillStyle = col[st] || col.pending;
        g.fill(path);
        if (st === "failed") { g.strokeStyle = col.text; g.lineWidth = 1.5 / Math.max(this.scale, 0.5); g.stroke(path); }
      }
      if (this.selected !== null && this.boxOf[this.selected] === this.boxes.indexOf(b)) {
        const i = this.selected;
        g.strokeStyle = col.text; g.lineWidth = 2 / this.scale;
        g.strokeRect(this.pos[2 * i] - CELL / 2 - 2, this.pos[2 * i + 1] - CELL / 2 - 2, CELL + 4, CELL + 4);
      }
      b.counts = counts;
      const done = counts.completed || 0, bad = counts.failed || 0;
      const where = b.layers ? ` · layers ${b.layers[0]}–${b.layers[1]}` : "";
      const head = `${b.route}${where} · ${b.ids.length} tasks · ${done} done` + (bad ? ` · ${bad} failed` : "");
      // above the cluster when it is too small on screen for its header row
      const above = this.scale * CLUSTER_HEAD < 16;
      const room = above ? b.w + LAYER_GAP - 12 : b.w - 2 * CLUSTER_PAD; // up to the next column
      if (room * this.scale >= 36) {
        text.push([head, b.x + (above ? 0 : CLUSTER_PAD), above ? b.y - 8 / this.scale : b.y + CLUSTER_HEAD / 2 + 3,
          room, bad ? col.failed : col.text, "bold 12px"]);
      }
    }
    // labels in screen pixels: readable whatever the zoom
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const [t, x, y, width, colour, font] of text) {
      g.font = `${font} system-ui, sans-serif`;
      g.fillStyle = colour;
      g.fillText(clip(g, t, width * this.scale), x * this.scale + this.tx, y * this.scale + this.ty);
    }
  }
}

const inks = new Map();

/** Dark or white text, whichever reads better on the colour `hex` (#rrggbb). */
function ink(hex) {
  let out = inks.get(hex);
  if (out === undefined) {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    // contrast with white (1.05 / (lum + .05)) against with near-black ((lum + .05) / .0568)
    out = 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0568 ? "#ffffff" : "#10131a";
    inks.set(hex, out);
  }
  return out;
}

function clip(g, text, width) {
  if (g.measureText(text).width <= width) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (g.measureText(text.slice(0, mid) + "…").width <= width) lo = mid; else hi = mid - 1;
  }
  return text.slice(0, lo) + "…";
}

/** The critical path: the chain of tasks whose durations add up to the most. */
export function criticalPath(tasks, graph, duration) {
  const finish = new Float64Array(tasks.length);
  const via = new Int32Array(tasks.length).fill(-1);
  for (const i of graph.order) {
    let start = 0, prev = -1;
    for (const d of tasks[i].deps) {
      const j = graph.index.get(d);
      if (j === undefined) continue;
      if (prev < 0 || finish[j] > start) { start = Math.max(start, finish[j]); prev = j; }
    }
    finish[i] = start + duration(tasks[i].id);
    via[i] = prev;
  }
  let end = -1;
  for (const i of graph.order) if (end < 0 || finish[i] > finish[end]) end = i;
  const path = [];
  for (let i = end; i >= 0; i = via[i]) path.push(tasks[i].id);
  return { path: path.reverse(), length: end < 0 ? 0 : finish[end] };
}

export { FINAL };
