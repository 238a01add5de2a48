// Coaching: per agent or per queue over a period against the period before — calls, pass rate and its trend, alerts
// per 100 calls, the worst rules, a pass-rate sparkline per group; a bar chart per group of alerts per rule per 100
// calls (this period and the previous one); CSV export. Reads GET /api/coaching.

import { h, s, clear, fetchJSON, formatWall } from "./dom.js";

const DAY_MS = 86400000;

function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// A "YYYY-MM-DD" date → epoch seconds at local midnight (+ days).
function dayStart(value, plusDays = 0) {
  const [y, m, d] = String(value).split("-").map(Number);
  if (!y || !m || !d) return null;
  return Math.floor(new Date(y, m - 1, d + plusDays).getTime() / 1000);
}

// The filters of the address with defaults: the last 7 days (today included), per agent.
export function coachingFilters(params) {
  const today = new Date();
  return {
    by: params.get("by") === "queue" ? "queue" : "agent",
    since: params.get("since") || isoDay(new Date(today.getTime() - 6 * DAY_MS)),
    until: params.get("until") || isoDay(today),
  };
}

export function coachingQuery(f, format = "") {
  const q = new URLSearchParams({ by: f.by, since: String(dayStart(f.since)), until: String(dayStart(f.until, 1)) });
  const days = Math.round((dayStart(f.until, 1) - dayStart(f.since)) / 86400);
  q.set("buckets", String(Math.max(1, Math.min(60, days))));
  if (format) q.set("format", format);
  return `/api/coaching?${q}`;
}

const pct = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)} %`);
const num = (x) => (x === null || x === undefined ? "—" : String(Math.round(x * 10) / 10));

// A change with an arrow and words (never colour alone); `goodUp`: whether a rise is an improvement.
function trend(delta, goodUp, unit, testid) {
  if (delta === null || delta === undefined) return h("span", { class: "trend muted", "data-testid": testid }, "no earlier data");
  const value = unit === "pts" ? Math.round(delta * 100) : Math.round(delta * 10) / 10;
  if (value === 0) return h("span", { class: "trend", "data-testid": testid, "data-trend": "flat" }, "→ unchanged");
  const better = (value > 0) === goodUp;
  return h("span", { class: `trend ${better ? "better" : "worse"}`, "data-testid": testid,
    "data-trend": better ? "better" : "worse" },
  `${value > 0 ? "▲ +" : "▼ "}${value} ${unit} (${better ? "better" : "worse"})`);
}

// Pass rate per bucket as a small SVG line (gaps where a bucket had no scored call).
function sparkline(series, key) {
  const W = 140, H = 32, n = series.length;
  const x = (i) => Math.round((n > 1 ? (i * (W - 8)) / (n - 1) : (W - 8) / 2) + 4);
  const y = (v) => Math.round(H - 4 - v * (H - 8));
  const svg = s("svg", { class: "sparkline", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "data-testid": "coaching-sparkline",
    "aria-label": `pass rate per period of ${key}: ${series.map((p) => pct(p.pass_rate)).join(", ")}` });
  svg.append(s("line", { x1: 4, x2: W - 4, y1: y(0.5), y2: y(0.5), class: "spark-mid" }));
  let path = "", pen = false;
  series.forEach((p, i) => {
    if (p.pass_rate === null || p.pass_rate === undefined) { pen = false; return; }
    path += `${pen ? "L" : "M"}${x(i)},${y(p.pass_rate)} `;
    pen = true;
    svg.append(s("circle", { cx: x(i), cy: y(p.pass_rate), r: 2.5, class: "spark-dot" },
      s("title", {}, `${formatWall(p.start)}: ${pct(p.pass_rate)} of ${p.calls} calls`)));
  });
  if (path) svg.prepend(s("path", { d: path.trim(), class: "spark-line" }));
  return svg;
}

// Alerts per 100 calls per rule, this period (solid) and the previous one (outlined), as horizontal bars.
function ruleChart(group) {
  const rules = group.rules || [];
  const rowH = 30, left = 190, W = 640;
  const H = Math.max(1, rules.length) * rowH + 24;
  const top = Math.max(1, ...rules.map((r) => Math.max(r.per_100 || 0, r.previous_per_100 || 0)));
  const x = (v) => Math.round(((W - left - 150) * (v || 0)) / top);
  const svg = s("svg", { class: "rule-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-testid": "coaching-rule-chart",
    "aria-label": `alerts per 100 calls per rule for ${group.key}` });
  if (!rules.length) svg.append(s("text", { x: 8, y: 20, class: "lane-label" }, "No alerts in either period."));
  rules.forEach((r, i) => {
    const y0 = i * rowH + 4;
    svg.append(
      s("text", { x: left - 6, y: y0 + 15, "text-anchor": "end", class: "lane-label" }, r.rule),
      s("rect", { x: left, y: y0, width: Math.max(1, x(r.per_100)), height: 11, class: "bar-now",
        "data-testid": "coaching-bar", "data-rule": r.rule, "data-value": String(r.per_100 ?? 0) },
      s("title", {}, `${r.rule}: ${num(r.per_100)} per 100 calls this period`)),
      s("rect", { x: left, y: y0 + 13, width: Math.max(1, x(r.previous_per_100)), height: 9, class: "bar-before" },
        s("title", {}, `${r.rule}: ${num(r.previous_per_100)} per 100 calls the period before`)),
      s("text", { x: left + Math.max(x(r.per_100), x(r.previous_per_100)) + 6, y: y0 + 15, class: "bar-label" },
        `${num(r.per_100)} (before ${num(r.previous_per_100)})`));
  });
  svg.append(s("text", { x: left, y: H - 4, class: "tick-label" }, "■ this period   □ the period before — alerts per 100 calls"));
  return svg;
}

export class CoachingView {
  constructor() {
    this.by = h("select", { id: "c-by", name: "by", "data-testid": "coaching-by" },
      h("option", { value: "agent" }, "agent"), h("option", { value: "queue" }, "queue"));
    this.since = h("input", { type: "date", id: "c-since", name: "since", "data-testid": "coaching-since" });
    this.until = h("input", { type: "date", id: "c-until", name: "until", "data-testid": "coaching-until" });
    this.csv = h("a", { class: "button", "data-testid": "coaching-csv", download: "" }, "Export CSV");
    this.form = h("form", { class: "filters", "data-testid": "coaching-filters", onsubmit: (ev) => this.submit(ev) },
      h("label", { for: "c-by" }, "Per", this.by), h("label", { for: "c-since" }, "From", this.since),
      h("label", { for: "c-until" }, "To", this.until),
      h("button", { type: "submit", "data-testid": "coaching-apply" }, "Show"), this.csv);
    this.status = h("p", { class: "status muted", role: "status", "data-testid": "coaching-status" });
    this.body = h("div", { class: "coaching-body" });
    this.el = h("section", { class: "view coaching-view", "aria-labelledby": "coaching-title" },
      h("h1", { id: "coaching-title", class: "view-title" }, "Coaching"), this.form, this.status, this.body);
  }

  submit(ev) {
    ev.preventDefault();
    const q = new URLSearchParams({ by: this.by.value, since: this.since.value, until: this.until.value });
    location.hash = `#/coaching?${q}`;
  }

  async show(params) {
    const f = coachingFilters(params);
    this.by.value = f.by; this.since.value = f.since; this.until.value = f.until;
    this.csv.href = coachingQuery(f, "csv");
    const seq = (this.seq = (this.seq || 0) + 1);
    this.status.textContent = "Loading…";
    clear(this.body);
    let data;
    try {
      data = await fetchJSON(coachingQuery(f));
    } catch (err) {
      if (seq === this.seq) this.status.textContent = `Could not load coaching figures: ${err.message}`;
      return;
    }
    if (seq !== this.seq) return;
    this.render(data, f);
  }

  render(data, f) {
    const groups = data.groups || [];
    const days = Math.round((data.until - data.since) / 86400);
    this.status.textContent = groups.length
      ? `${groups.length} ${f.by === "agent" ? "agents" : "queues"}, ${f.since} to ${f.until} (${days} days), `
        + `compared with the ${days} days before. Worst pass rate first.`
      : `No ended calls from ${f.since} to ${f.until}.`;
    if (!groups.length) return;
    const detail = h("div", { class: "coaching-detail", "data-testid": "coaching-detail" });
    const pick = (g, row) => {
      for (const r of this.body.querySelectorAll("tr.selected")) r.classList.remove("selected");
      row.classList.add("selected");
      clear(detail).append(h("h2", {}, `${g.key}: alerts per 100 calls by rule`), ruleChart(g));
    };
    const rows = groups.map((g) => {
      const row = h("tr", { "data-testid": "coaching-row", "data-key": g.key, tabindex: "0" },
        h("th", { scope: "row" }, h("button", { type: "button", class: "linkish", onclick: () => pick(g, row) }, g.key)),
        h("td", { class: "num" }, String(g.calls), h("span", { class: "muted" }, ` (before ${g.previous.calls})`)),
        h("td", { class: "num", "data-testid": "coaching-pass-rate" }, pct(g.pass_rate)),
        h("td", {}, trend(g.trend.pass_rate, true, "pts", "coaching-pass-trend")),
        h("td", { class: "num", "data-testid": "coaching-per-100" }, num(g.findings_per_100)),
        h("td", {}, trend(g.trend.findings_per_100, false, "per 100", "coaching-alert-trend")),
        h("td", { "data-testid": "coaching-worst" }, g.worst_rules.length
          ? g.worst_rules.map((r) => `${r.rule} ${num(r.per_100)}`).join(" · ") : "—"),
        h("td", {}, sparkline(g.series, g.key)));
      return row;
    });
    this.body.append(
      h("div", { class: "table-wrap" }, h("table", { class: "coaching", "data-testid": "coaching-table" },
        h("thead", {}, h("tr", {}, [f.by === "agent" ? "Agent" : "Queue", "Calls", "Pass rate", "vs before",
          "Alerts / 100 calls", "vs before", "Worst rules (per 100 calls)", "Pass rate over the period"]
          .map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows))),
      h("p", { class: "muted" }, "Pass rate: passed of scored calls. Alerts: findings above severity info. ",
        `Select a${f.by === "agent" ? "n agent" : " queue"} for its rules.`),
      detail);
    pick(groups[0], rows[0]);
  }
}
