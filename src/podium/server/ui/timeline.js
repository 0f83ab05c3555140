// The timeline per agent (the HTML report's Gantt, live): one row per agent, one bar per
// attempt, coloured by how it ended; bars of one agent that overlap go to lanes of their own.

const ROW_MIN = 22, LANE_H = 6, MAX_LANES = 12, LABEL_W = 120, AXIS_H = 18;

export class Timeline {
  constructor(canvas, state, doc, onOpen) {
    this.canvas = canvas;
    this.bars = []; // {task, agent, start, end, status}
    this.open_ = new Map(); // task -> its open bar
    this.onOpen = onOpen;
    this.t0 = doc.started_at ? Date.parse(doc.started_at) / 1000 : Date.now() / 1000;
    for (const [id, r] of state) {
      if (r.start === null || !r.agent) continue;
      const bar = { task: id, agent: r.agent, start: r.start, end: r.end, status: r.status };
      this.bars.push(bar);
      if (r.end === null) this.open_.set(id, bar);
    }
    this.dirty = true;
    this.hits = [];
    canvas.addEventListener("click", (e) => {
      const r = canvas.getBoundingClientRect();
      const x = e.clientX - r.left, y = e.clientY - r.top;
      const hit = this.hits.find((b) => x >= b.x && x <= b.x + b.w + 2 && y >= b.y && y <= b.y + b.h);
      if (hit) this.onOpen(hit.task);
    });
    const loop = () => {
      if (this.stopped) return;
      if (this.dirty) { this.dirty = false; this.draw(); }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  stop() { this.stopped = true; }

  open(task, agent, at) {
    this.close(task, "retrying", at);
    const bar = { task, agent, start: at, end: null, status: "running" };
    this.bars.push(bar);
    this.open_.set(task, bar);
    this.dirty = true;
  }

  close(task, status, at) {
    const bar = this.open_.get(task);
    if (!bar) return;
    bar.end = at; bar.status = status;
    this.open_.delete(task);
    this.dirty = true;
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const css = getComputedStyle(document.documentElement);
    const col = (n) => css.getPropertyValue(`--${n}`).trim();
    const now = Date.now() / 1000;
    const agents = [...new Set(this.bars.map((b) => b.agent))].sort();
    // lanes per agent: greedy, bars in start order
    const lanes = new Map(agents.map((a) => [a, []]));
    const placed = [];
    for (const b of [...this.bars].sort((x, y) => x.start - y.start)) {
      const ends = lanes.get(b.agent);
      let k = ends.findIndex((e) => e <= b.start);
      if (k < 0) { k = ends.length < MAX_LANES ? ends.length : ends.length - 1; if (k === ends.length) ends.push(0); }
      ends[k] = Math.max(ends[k], b.end ?? now);
      placed.push([b, k]);
    }
    const rowH = new Map(agents.map((a) => [a, Math.max(ROW_MIN, lanes.get(a).length * (LANE_H + 1) + 4)]));
    const rowY = new Map();
    let y = AXIS_H;
    for (const a of agents) { rowY.set(a, y); y += rowH.get(a); }
    const w = c.clientWidth, hgt = Math.max(60, y + 4);
    c.style.height = `${hgt}px`;
    c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    let last = this.t0 + 0.001;
    for (const b of this.bars) last = Math.max(last, b.end ?? now);
    const span = Math.max(0.001, last - this.t0);
    const sx = (w - LABEL_W - 8) / span;
    g.font = "12px system-ui, sans-serif"; g.textBaseline = "middle";
    g.fillStyle = col("muted");
    for (let i = 0; i <= 4; i++) {
      const t = (span * i) / 4;
      g.fillText(`${t < 10 ? t.toFixed(2) : t.toFixed(0)} s`, LABEL_W + i * ((w - LABEL_W - 40) / 4), 9);
    }
    this.hits = [];
    for (const a of agents) {
      const y0 = rowY.get(a);
      g.fillStyle = col("text");
      g.fillText(a.length > 16 ? a.slice(0, 15) + "…" : a, 4, y0 + rowH.get(a) / 2);
      g.fillStyle = col("line"); g.fillRect(LABEL_W, y0 + rowH.get(a) - 1, w - LABEL_W, 1);
    }
    for (const [b, k] of placed) {
      const x = LABEL_W + (b.start - this.t0) * sx;
      const bw = Math.max(1.5, ((b.end ?? now) - b.start) * sx);
      const by = rowY.get(b.agent) + 2 + k * (LANE_H + 1);
      g.fillStyle = col(b.status) || col("running");
      g.fillRect(x, by, bw, LANE_H);
      if (this.hits.length < 20000) this.hits.push({ x, y: by, w: bw, h: LANE_H, task: b.task });
    }
    if (!agents.length) { g.fillStyle = col("muted"); g.fillText("No task has started yet.", 4, AXIS_H + 10); }
  }
}
