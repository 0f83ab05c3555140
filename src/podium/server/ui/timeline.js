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
    this.lanes = new Map(); // agent -> end time of each lane (Infinity while a bar is open)
    const known = [];
    for (const [id, r] of state) {
      if (r.start === null || !r.agent) continue;
      known.push({ task: id, agent: r.agent, start: r.start, end: r.end, status: r.status });
    }
    for (const bar of known.sort((x, y) => x.start - y.start)) this.place(bar);
    this.dirty = true;
    this.hit = null;
    canvas.addEventListener("click", (e) => {
      const r = canvas.getBoundingClientRect();
      const x = e.clientX - r.left, y = e.clientY - r.top;
      const task = this.hit ? this.hit(x, y) : null;
      if (task) this.onOpen(task);
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
    this.place({ task, agent, start: at, end: null, status: "running" });
    this.dirty = true;
  }

  /** Give `bar` the first lane of its agent free at its start (bars come in start order). */
  place(bar) {
    let ends = this.lanes.get(bar.agent);
    if (!ends) this.lanes.set(bar.agent, (ends = []));
    let k = ends.findIndex((e) => e <= bar.start);
    if (k < 0) {
      k = ends.length < MAX_LANES ? ends.length : ends.indexOf(Math.min(...ends));
      if (k === ends.length) ends.push(0);
    }
    ends[k] = bar.end ?? Infinity;
    bar.lane = k;
    this.bars.push(bar);
    if (bar.end === null) this.open_.set(bar.task, bar);
  }

  close(task, status, at) {
    const bar = this.open_.get(task);
    if (!bar) return;
    bar.end = at; bar.status = status;
    this.open_.delete(task);
    const ends = this.lanes.get(bar.agent);
    if (ends[bar.lane] === Infinity) ends[bar.lane] = at;
    this.dirty = true;
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const css = getComputedStyle(document.documentElement);
    const col = (n) => css.getPropertyValue(`--${n}`).trim();
    const now = Date.now() / 1000;
    const agents = [...this.lanes.keys()].sort();
    const lanes = this.lanes;
    const rowH = new Map(agents.map((a) => [a, Math.max(ROW_MIN, lanes.get(a).length * (LANE_H + 1) + 4)]));
    const rowY = new Map();
    let y = AXIS_H;
    for (const a of agents) { rowY.set(a, y); y += rowH.get(a); }
    const w = c.clientWidth, hgt = Math.max(60, y + 4);
    if (c.style.height !== `${hgt}px`) c.style.height = `${hgt}px`;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr);
    } else {
      g0(c).clearRect(0, 0, c.width, c.height);
    }
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
    for (const a of agents) {
      const y0 = rowY.get(a);
      g.fillStyle = col("text");
      g.fillText(a.length > 16 ? a.slice(0, 15) + "…" : a, 4, y0 + rowH.get(a) / 2);
      g.fillStyle = col("line"); g.fillRect(LABEL_W, y0 + rowH.get(a) - 1, w - LABEL_W, 1);
    }
    const paths = {}; // one path per state: a fill per colour, not per bar
    const geo = (b) => [LABEL_W + (b.start - this.t0) * sx, rowY.get(b.agent) + 2 + b.lane * (LANE_H + 1),
      Math.max(1.5, ((b.end ?? now) - b.start) * sx)];
    for (const b of this.bars) {
      const [x, by, bw] = geo(b);
      (paths[b.status] ||= new Path2D()).rect(x, by, bw, LANE_H);
    }
    for (const [st, path] of Object.entries(paths)) { g.fillStyle = col(st) || col("running"); g.fill(path); }
    this.hit = (px, py) => {
      for (let i = this.bars.length - 1; i >= 0; i--) {
        const [x, by, bw] = geo(this.bars[i]);
        if (px >= x - 1 && px <= x + bw + 1 && py >= by && py <= by + LANE_H) return this.bars[i].task;
      }
      return null;
    };
    if (!agents.length) { g.fillStyle = col("muted"); g.fillText("No task has started yet.", 4, AXIS_H + 10); }
  }
}

const g0 = (c) => { const g = c.getContext("2d"); g.setTransform(1, 0, 0, 1, 0, 0); return g; };
