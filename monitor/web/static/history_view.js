// The calls history: /api/calls with filters (date range, agent, rule, severity, pass/fail) and paging.

import { h, clear, fetchJSON, formatWall, formatAudio, severityBadge, SEVERITIES } from "./dom.js";

const PAGE = 50;
const FIELDS = ["since", "until", "agent", "rule", "severity", "passed"];

// A "YYYY-MM-DD" date → epoch seconds at local midnight (+ days).
function dayStart(value, plusDays = 0) {
  const [y, m, d] = String(value).split("-").map(Number);
  if (!y || !m || !d) return null;
  return Math.floor(new Date(y, m - 1, d + plusDays).getTime() / 1000);
}

// The /api/calls URL for the view's filters (dates are inclusive days; `until` is sent as the next midnight).
export function apiQuery(filters) {
  const q = new URLSearchParams();
  const since = filters.since ? dayStart(filters.since) : null;
  const until = filters.until ? dayStart(filters.until, 1) : null;
  if (since !== null) q.set("since", String(since));
  if (until !== null) q.set("until", String(until));
  for (const name of ["agent", "rule", "severity", "passed"]) if (filters[name]) q.set(name, filters[name]);
  q.set("limit", String(PAGE));
  q.set("offset", String(Number(filters.offset) || 0));
  return `/api/calls?${q}`;
}

export class HistoryView {
  constructor() {
    this.inputs = {
      since: h("input", { type: "date", id: "f-since", name: "since" }),
      until: h("input", { type: "date", id: "f-until", name: "until" }),
      agent: h("input", { type: "text", id: "f-agent", name: "agent", placeholder: "any", autocomplete: "off" }),
      rule: h("input", { type: "text", id: "f-rule", name: "rule", placeholder: "e.g. pci.pan-spoken", autocomplete: "off" }),
      severity: h("select", { id: "f-severity", name: "severity" },
        h("option", { value: "" }, "any"), SEVERITIES.slice(1).map((s) => h("option", { value: s }, `${s} or worse`))),
      passed: h("select", { id: "f-passed", name: "passed" },
        h("option", { value: "" }, "any"), h("option", { value: "true" }, "passed"), h("option", { value: "false" }, "failed")),
    };
    const label = (name, text) => h("label", { for: `f-${name}` }, text, this.inputs[name]);
    this.form = h("form", { class: "filters", "data-testid": "history-filters", onsubmit: (ev) => this.submit(ev) },
      label("since", "From"), label("until", "To"), label("agent", "Agent"), label("rule", "Rule"),
      label("severity", "Severity"), label("passed", "Result"),
      h("button", { type: "submit", "data-testid": "apply-filters" }, "Apply"),
      h("button", { type: "button", onclick: () => this.go("#/calls") }, "Clear"));
    this.status = h("p", { class: "status muted", role: "status", "data-testid": "history-status" });
    this.body = h("tbody", {});
    this.pager = h("nav", { class: "pager", "aria-label": "pages" });
    this.el = h("section", { class: "view history-view", "aria-labelledby": "history-title" },
      h("h1", { id: "history-title", class: "view-title" }, "Calls history"), this.form, this.status,
      h("div", { class: "table-wrap" }, h("table", { class: "calls", "data-testid": "calls-table" },
        h("thead", {}, h("tr", {}, ["Started", "Call", "Agent", "Queue", "Length", "Status", "Score", "Result",
          "Findings", "Worst"].map((c) => h("th", { scope: "col" }, c)))), this.body)),
      this.pager);
  }

  submit(ev) {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const name of FIELDS) if (this.inputs[name].value) q.set(name, this.inputs[name].value);
    this.go(`#/calls${q.toString() ? "?" + q : ""}`);
  }

  // Navigate to a history address; the same address again reloads the list (no hashchange fires for it).
  go(hash) {
    if (location.hash === hash) this.show(new URLSearchParams(hash.split("?")[1] || ""));
    else location.hash = hash;
  }

  async show(params) {
    const seq = (this.seq = (this.seq || 0) + 1);
    const filters = Object.fromEntries(params.entries());
    for (const name of FIELDS) this.inputs[name].value = filters[name] || "";
    this.status.textContent = "Loading…";
    clear(this.body);
    clear(this.pager);
    let data;
    try {
      data = await fetchJSON(apiQuery(filters));
    } catch (err) {
      if (seq !== this.seq) return;
      this.status.textContent = `Could not load calls: ${err.message}`;
      return;
    }
    if (seq !== this.seq) return; // a newer request superseded this one
    const calls = Array.isArray(data.calls) ? data.calls : [];
    const offset = Number(filters.offset) || 0;
    this.status.textContent = calls.length
      ? `Calls ${offset + 1}–${offset + calls.length}` : "No calls match these filters.";
    for (const call of calls) this.body.append(row(call));
    this.paging(params, offset, calls.length);
  }

  paging(params, offset, count) {
    const link = (to, text) => {
      const q = new URLSearchParams(params);
      q.set("offset", String(to));
      return h("a", { href: `#/calls?${q}`, class: "button" }, text);
    };
    if (offset > 0) this.pager.append(link(Math.max(0, offset - PAGE), "← Newer"));
    if (count === PAGE) this.pager.append(link(offset + PAGE, "Older →"));
  }
}

function row(call) {
  const meta = call.metadata || {};
  const length = call.audio_seconds ? formatAudio(call.audio_seconds)
    : call.ended_wall && call.started_wall ? formatAudio(call.ended_wall - call.started_wall) : "—";
  const verdict = call.passed === true ? "PASS" : call.passed === false ? "FAIL" : "—";
  const id = String(call.call_id ?? "");
  return h("tr", { "data-testid": "history-row", "data-call-id": id },
    h("td", {}, formatWall(call.started_wall)),
    h("td", {}, h("a", { href: `#/calls/${encodeURIComponent(id)}` }, id)),
    h("td", {}, call.agent || meta.agent || "—"),
    h("td", {}, meta.queue || "—"),
    h("td", { class: "num" }, length),
    h("td", {}, call.status || "—"),
    h("td", { class: "num" }, call.score ?? "—"),
    h("td", {}, h("span", { class: `verdict ${verdict.toLowerCase()}` }, verdict)),
    h("td", { class: "num" }, String(call.findings_count ?? 0)),
    h("td", {}, call.max_severity ? severityBadge(call.max_severity) : "—"));
}
