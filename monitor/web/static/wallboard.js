// The wallboard: every active call as one dense table row (severity of its worst open alert, open alerts, call age,
// agent, queue, latest alert), sortable by any column, kept live from /live; a row opens the call's live detail.
// Built for hundreds of calls: changes mark rows dirty and one animation frame updates only the cells that changed,
// re-sorting (and moving rows) only when the order changed. Ended calls stay (marked) until they leave the state.

import { h, clear, severityBadge, severityRank, formatAudio, humanize } from "./dom.js";
import { callDuration } from "./live_state.js";
import { alertState } from "./alert_workflow.js";

const COLUMNS = [
  // key, label, value(row) for sorting, default direction (-1 = descending first)
  ["severity", "Severity", (r) => r.severity, -1],
  ["open", "Open alerts", (r) => r.open * 1000 + r.unacked, -1],
  ["age", "Call age", (r) => r.age, -1],
  ["agent", "Agent", (r) => r.agent.toLowerCase(), 1],
  ["queue", "Queue", (r) => r.queue.toLowerCase(), 1],
  ["latest", "Latest alert", (r) => r.latestAt, -1],
  ["call", "Call", (r) => r.id, 1],
];

// What a row shows for one call of LiveState.
export function rowData(call, now = performance.now()) {
  const meta = call.started.metadata || {};
  let severity = 0, open = 0, unacked = 0, latest = null;
  for (const entry of call.findings.values()) {
    const rank = severityRank(entry.finding.severity);
    if (rank === 0) continue; // info findings are compliance records, not alerts
    if (!latest || (entry.wall_time || 0) >= (latest.wall_time || 0)) latest = entry;
    if (alertState(entry.actions).resolved) continue;
    open += 1;
    if (!entry.acknowledged) unacked += 1;
    severity = Math.max(severity, rank);
  }
  return {
    id: call.id, agent: String(meta.agent || ""), queue: String(meta.queue || ""), severity, open, unacked,
    age: Math.floor(callDuration(call, now)), ended: Boolean(call.ended),
    latest: latest ? `${latest.finding.rule_id || "?"}: ${humanize(latest.finding.outcome)}` : "",
    latestAt: latest ? Number(latest.wall_time) || 0 : 0,
    latestId: latest ? String(latest.finding.finding_id ?? "") : "",
  };
}

export class Wallboard {
  constructor(state) {
    this.state = state;
    this.rows = new Map();      // call id → {tr, cells, data}
    this.dirty = new Set();
    this.sortKey = "severity";
    this.sortDir = -1;
    this.order = [];
    this.active = false;
    this.frame = 0;
    this.summary = h("p", { class: "wb-summary", "data-testid": "wallboard-summary", role: "status" });
    this.body = h("tbody", { "data-testid": "wallboard-body" });
    this.heads = COLUMNS.map(([key, label, , dir]) => {
      const button = h("button", { type: "button", class: "sort", "data-testid": `sort-${key}`,
        onclick: () => this.sortBy(key, dir) }, label);
      return h("th", { scope: "col", "data-key": key, "aria-sort": "none" }, button);
    });
    this.empty = h("p", { class: "empty muted", "data-testid": "wallboard-empty" }, "No active calls.");
    this.table = h("table", { class: "wallboard", "data-testid": "wallboard" },
      h("caption", { class: "sr-only" }, "Active calls; select a column heading to sort, a row to open the call"),
      h("thead", {}, h("tr", {}, this.heads)), this.body);
    this.el = h("section", { class: "view wallboard-view", "aria-labelledby": "wb-title" },
      h("div", { class: "wb-head" }, h("h1", { id: "wb-title", class: "view-title" }, "Wallboard"), this.summary),
      this.empty, h("div", { class: "table-wrap wb-wrap" }, this.table));
    this.markSorted();
    setInterval(() => { if (this.active) this.tick(); }, 1000);
  }

  // Shown or hidden: while hidden, changes only mark rows dirty (no DOM work).
  setActive(on) {
    this.active = on;
    if (on) {
      for (const id of this.state.calls.keys()) this.dirty.add(id);
      for (const id of this.rows.keys()) this.dirty.add(id);
      this.flush();
    }
  }

  // Changes from LiveState.apply (see live_state.js): mark the calls concerned, update them in the next frame.
  changed(changes) {
    for (const change of changes) {
      if (change.what === "reset") {
        for (const id of this.rows.keys()) this.dirty.add(id);
        for (const id of this.state.calls.keys()) this.dirty.add(id);
      } else if (change.what !== "line") {
        this.dirty.add(change.callId);
      }
    }
    if (this.active && this.dirty.size && !this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const now = performance.now();
    let reorder = false;
    for (const id of this.dirty) {
      const call = this.state.call(id);
      if (!call) {
        const row = this.rows.get(id);
        if (row) { row.tr.remove(); this.rows.delete(id); reorder = true; }
        continue;
      }
      const data = rowData(call, now);
      let row = this.rows.get(id);
      if (!row) {
        row = this.newRow(id);
        this.rows.set(id, row);
        reorder = true;
      }
      if (this.fill(row, data)) reorder = true;
    }
    this.dirty.clear();
    if (reorder) this.sort();
    this.empty.hidden = this.rows.size > 0;
    this.table.hidden = this.rows.size === 0;
    this.summarize();
  }

  newRow(id) {
    const cells = {
      severity: h("td", { class: "wb-sev" }), open: h("td", { class: "num" }), age: h("td", { class: "num" }),
      agent: h("td"), queue: h("td"), latest: h("td", { class: "wb-latest" }),
      call: h("td", { class: "mono" }, h("a", { href: `#/call/${encodeURIComponent(id)}`, "data-testid": "wallboard-open" }, id)),
    };
    const tr = h("tr", { "data-testid": "wallboard-row", "data-call-id": id, tabindex: "-1",
      onclick: (ev) => { if (!ev.target.closest("a")) location.hash = `#/call/${encodeURIComponent(id)}`; } },
    COLUMNS.map(([key]) => cells[key]));
    return { tr, cells, data: null };
  }

  // Write the cells whose value changed; true when a value any sort depends on changed (the order may change).
  fill(row, data) {
    const prev = row.data;
    const old = prev || {};
    const c = row.cells;
    if (old.severity !== data.severity || old.open !== data.open) {
      clear(c.severity).append(data.open ? severityBadge(["info", "low", "medium", "high", "critical"][data.severity])
        : h("span", { class: "muted" }, "—"));
      row.tr.dataset.severity = String(data.severity);
      row.tr.className = data.open ? `wb-row wb-sev-${data.severity}` : "wb-row";
    }
    if (old.open !== data.open || old.unacked !== data.unacked) {
      c.open.textContent = data.unacked ? `${data.open} (${data.unacked} new)` : String(data.open);
      row.tr.dataset.open = String(data.open);
    }
    if (old.age !== data.age || old.ended !== data.ended) {
      c.age.textContent = data.ended ? `${formatAudio(data.age)} ended` : formatAudio(data.age);
      row.tr.classList.toggle("wb-ended", data.ended);
    }
    if (old.agent !== data.agent) c.agent.textContent = data.agent || "—";
    if (old.queue !== data.queue) c.queue.textContent = data.queue || "—";
    if (old.latest !== data.latest) c.latest.textContent = data.latest || "—";
    if (old.latestId !== data.latestId) row.tr.dataset.latest = data.latestId;
    row.data = data;
    return prev === null || COLUMNS.some(([, , key]) => key(prev) !== key(data));
  }

  tick() {
    const now = performance.now();
    let reorder = false;
    for (const [id, row] of this.rows) {
      const call = this.state.call(id);
      if (!call || call.ended) continue;
      const age = Math.floor(callDuration(call, now));
      if (age !== row.data.age) {
        row.data = { ...row.data, age };
        row.cells.age.textContent = formatAudio(age);
        if (this.sortKey === "age") reorder = true;
      }
    }
    if (reorder) this.sort();
  }

  sortBy(key, defaultDir) {
    this.sortDir = this.sortKey === key ? -this.sortDir : defaultDir;
    this.sortKey = key;
    this.markSorted();
    this.sort();
  }

  markSorted() {
    for (const th of this.heads) {
      th.setAttribute("aria-sort", th.dataset.key !== this.sortKey ? "none" : this.sortDir < 0 ? "descending" : "ascending");
    }
  }

  // Order rows by the sort column (ties: severity, open alerts, age, call id); move DOM rows only if it changed.
  sort() {
    const [, , key] = COLUMNS.find(([k]) => k === this.sortKey);
    const dir = this.sortDir;
    const rows = [...this.rows.values()];
    const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
    rows.sort((a, b) => dir * cmp(key(a.data), key(b.data))
      || cmp(b.data.severity, a.data.severity) || cmp(b.data.open, a.data.open) || cmp(b.data.age, a.data.age)
      || cmp(a.data.id, b.data.id));
    const order = rows.map((r) => r.data.id);
    if (order.length === this.order.length && order.every((id, i) => id === this.order[i])
        && this.body.childElementCount === order.length) return;
    this.order = order;
    let cursor = this.body.firstElementChild;
    for (const row of rows) {
      if (row.tr === cursor) cursor = cursor.nextElementSibling;
      else this.body.insertBefore(row.tr, cursor);
    }
  }

  summarize() {
    let open = 0, unacked = 0, critical = 0, live = 0;
    for (const { data } of this.rows.values()) {
      open += data.open; unacked += data.unacked; if (data.severity === 4 && data.open) critical += 1;
      if (!data.ended) live += 1;
    }
    this.summary.textContent = `${live} active calls · ${open} open alerts (${unacked} not acknowledged) · `
      + `${critical} calls with a critical alert`;
    this.summary.dataset.calls = String(live);
    this.summary.dataset.open = String(open);
  }
}
