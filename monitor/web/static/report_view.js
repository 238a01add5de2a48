// The post-call report: score, per-rule breakdown with evidence, timeline, highlighted transcript, export, print.

import { h, clear, fetchJSON, formatAudio, formatWall, guardDigits, humanize, severityBadge, severityRank,
  speakerLabel } from "./dom.js";
import { timeline } from "./timeline.js";
import { workflowSummary } from "./alert_workflow.js";

const STATUS = {
  passed: ["✓", "passed"], failed: ["✗", "failed"], not_applicable: ["–", "not applicable"],
};

function itemStatus(item) {
  if (item.status) return String(item.status);
  if (item.passed === true) return "passed";
  return item.passed === false ? "failed" : "not_applicable";
}

// A finding row from /api/calls/<id> may be the finding JSON itself or a stored row carrying it in `data`.
function findingJSON(raw) {
  return raw && typeof raw.data === "object" && raw.data && !raw.rule_id ? { ...raw, ...raw.data } : raw || {};
}

export class ReportView {
  constructor() {
    this.el = h("section", { class: "view report-view", "aria-labelledby": "report-title" });
  }

  async show(callId) {
    const seq = (this.seq = (this.seq || 0) + 1);
    clear(this.el).append(h("h1", { id: "report-title", class: "view-title" }, `Call report — ${callId}`),
      h("p", { class: "muted", role: "status" }, "Loading…"));
    let data;
    try {
      data = await fetchJSON(`/api/calls/${encodeURIComponent(callId)}`);
    } catch (err) {
      if (seq !== this.seq) return;
      clear(this.el).append(h("h1", { id: "report-title", class: "view-title" }, `Call report — ${callId}`),
        h("p", { class: "error", role: "alert", "data-testid": "report-error" }, `Could not load the report: ${err.message}`));
      return;
    }
    if (seq === this.seq) this.render(callId, data);
  }

  render(callId, data) {
    const call = data.call || {};
    const report = data.report || {};
    const findings = (Array.isArray(data.findings) ? data.findings : report.findings || []).map(findingJSON);
    const transcript = Array.isArray(data.transcript) ? data.transcript : [];
    const acks = Array.isArray(data.acknowledgements) ? data.acknowledgements : [];
    const actions = Array.isArray(data.alert_actions) ? data.alert_actions : [];
    this.lines = h("ol", { class: "lines report-lines", "data-testid": "report-transcript" });
    const duration = Math.max(0, ...transcript.map((l) => Number(l.end) || 0), ...findings.map((f) => Number(f.end) || 0),
      Number(report.ended_at) || 0, Number(call.audio_seconds) || 0);
    const jump = (t, channel) => this.jumpTo(t, channel);
    clear(this.el).append(
      h("div", { class: "report-head" },
        h("h1", { id: "report-title", class: "view-title" }, `Call report — ${callId}`),
        h("div", { class: "report-actions no-print" },
          h("a", { class: "button", href: "#/calls" }, "← History"),
          h("a", { class: "button", href: `/api/calls/${encodeURIComponent(callId)}`, download: `callwarden-${callId}.json`,
            "data-testid": "export-json" }, "Export JSON"),
          h("button", { type: "button", onclick: () => window.print(), "data-testid": "print" }, "Print"))),
      summary(call, report),
      h("section", { class: "panel" }, h("h2", {}, "Timeline"), timeline(transcript, findings, duration, jump),
        h("p", { class: "legend muted" }, "Markers: C critical · H high · M medium · L low · i info (compliant). ",
          "Select a marker to jump to that moment in the transcript.")),
      h("section", { class: "panel" }, h("h2", {}, "Rules"), items(report.items, jump)),
      h("section", { class: "panel" }, h("h2", {}, "Findings"), findingTable(findings, acks, actions, jump)),
      h("section", { class: "panel transcript-panel" }, h("h2", {}, "Transcript (redacted)"), this.lines));
    fillTranscript(this.lines, transcript, findings);
  }

  jumpTo(t, channel) {
    const items = [...this.lines.children];
    const at = (el) => Number(el.dataset.start) <= t + 0.05;
    const target = items.filter((el) => at(el) && el.dataset.channel === String(channel)).pop()
      || items.filter(at).pop() || items[0];
    if (!target) return;
    for (const el of this.lines.querySelectorAll(".flash")) el.classList.remove("flash");
    target.classList.add("flash");
    target.scrollIntoView({ block: "center", behavior: "smooth" });
    target.focus({ preventScroll: true });
  }
}

function summary(call, report) {
  const meta = call.metadata || {};
  const verdict = report.auto_failed ? "AUTO-FAIL" : report.passed === true ? "PASS" : report.passed === false ? "FAIL" : "NOT SCORED";
  const cls = report.passed === true ? "pass" : report.passed === false || report.auto_failed ? "fail" : "";
  const field = (name, value) => [h("dt", {}, name), h("dd", {}, value ?? "—")];
  const length = call.audio_seconds ? formatAudio(call.audio_seconds)
    : call.ended_wall && call.started_wall ? formatAudio(call.ended_wall - call.started_wall) : "—";
  const counts = report.counts || {};
  return h("section", { class: "panel summary" },
    h("div", { class: "score-box" },
      h("div", { class: "score", "data-testid": "report-score" }, report.score ?? "—"),
      h("div", { class: "muted" }, report.pass_mark !== undefined ? `of 100 · pass mark ${report.pass_mark}` : "of 100"),
      h("div", { class: `verdict big ${cls}`, "data-testid": "report-verdict" }, verdict),
      report.auto_fail_rules?.length ? h("div", { class: "muted" }, `auto-failed by ${report.auto_fail_rules.join(", ")}`) : null),
    h("dl", { class: "meta wide" },
      field("Agent", call.agent || meta.agent), field("Queue", meta.queue), field("Direction", meta.direction),
      field("Protocol", call.protocol), field("Started", formatWall(call.started_wall)),
      field("Ended", formatWall(call.ended_wall)), field("Length", length),
      field("End reason", humanize(call.end_reason || report.end_reason) || "—"),
      field("Rules", counts.rules_passed !== undefined
        ? `${counts.rules_passed} passed · ${counts.rules_failed} failed · ${counts.rules_not_applicable} n/a` : null),
      field("Packs", (report.packs || []).map((p) => `${p.id} ${p.version}`).join(", ") || null)));
}

function items(list, jump) {
  if (!Array.isArray(list) || !list.length) return h("p", { class: "muted" }, "No rule breakdown in this report.");
  return h("ol", { class: "items", "data-testid": "report-items" }, list.map((item) => {
    const status = itemStatus(item);
    const [symbol, word] = STATUS[status] || ["?", humanize(status)];
    const points = item.possible !== undefined ? `${item.points ?? 0} / ${item.possible} pts` : `weight ${item.weight ?? "—"}`;
    return h("li", { class: `item item-${status}`, "data-testid": "report-item", "data-rule-id": item.rule_id, "data-status": status },
      h("div", { class: "item-head" },
        h("span", { class: `status status-${status}` }, `${symbol} ${word}`),
        h("strong", {}, item.rule_id || "?"),
        item.auto_fail ? h("span", { class: "tag" }, "auto-fail") : null,
        h("span", { class: "muted points" }, points)),
      item.description ? h("p", {}, item.description) : null,
      item.summary ? h("p", { class: "summary-text" }, guardDigits(item.summary)) : null,
      evidenceList(item.evidence, jump));
  }));
}

function evidenceList(evidence, jump) {
  if (!Array.isArray(evidence) || !evidence.length) return null;
  return h("ul", { class: "evidence-list" }, evidence.map((e) => {
    const ev = typeof e === "string" ? { evidence: e } : e || {};
    return h("li", {},
      ev.severity ? severityBadge(ev.severity) : null, " ",
      ev.outcome ? h("span", { class: "outcome" }, humanize(ev.outcome)) : null, " ",
      ev.start !== undefined ? timeLink(ev.start, ev.channel, jump) : null, " ",
      ev.evidence ? h("q", {}, guardDigits(ev.evidence)) : null,
      ev.reason ? h("div", { class: "muted" }, guardDigits(ev.reason)) : null);
  }));
}

function timeLink(t, channel, jump) {
  return h("a", { href: "#", class: "jump", onclick: (ev) => { ev.preventDefault(); jump(Number(t) || 0, channel); } },
    `▶ ${formatAudio(t)}`);
}

function findingTable(findings, acks, actions, jump) {
  if (!findings.length) return h("p", { class: "muted" }, "No findings.");
  const ackOf = new Map(acks.map((a) => [a.finding_id, a]));
  return h("div", { class: "table-wrap" }, h("table", { class: "findings" },
    h("thead", {}, h("tr", {}, ["At", "Severity", "Rule", "Outcome", "Evidence", "Reason", "Acknowledged", "Workflow"]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, findings.map((f) => {
      const ack = ackOf.get(f.finding_id) || (f.acknowledgements || [])[0];
      return h("tr", { "data-testid": "report-finding", "data-finding-id": f.finding_id },
        h("td", {}, timeLink(f.start, f.channel, jump)), h("td", {}, severityBadge(f.severity)),
        h("td", {}, f.rule_id || "?"), h("td", {}, humanize(f.outcome)),
        h("td", {}, f.evidence ? h("q", {}, guardDigits(f.evidence)) : "—"), h("td", {}, guardDigits(f.reason) || "—"),
        h("td", {}, ack ? `${ack.by || ack.who || "?"}, ${formatWall(ack.at ?? ack.wall_time)}` : "—"),
        h("td", {}, workflowSummary(actions.filter((a) => a.finding_id === f.finding_id))));
    }))));
}

// Transcript lines; a line overlapping a finding (same leg, or any leg when the finding has none) is highlighted.
function fillTranscript(list, transcript, findings) {
  const lines = [...transcript].sort((a, b) => (Number(a.start) || 0) - (Number(b.start) || 0));
  if (!lines.length) list.append(h("li", { class: "muted" }, "No transcript stored."));
  for (const line of lines) {
    const start = Number(line.start) || 0, end = Number(line.end) || start;
    const hits = findings.filter((f) => severityRank(f.severity) > 0 || f.evidence)
      .filter((f) => (f.channel === undefined || f.channel < 0 || f.channel === line.channel || f.speaker === line.speaker)
        && Number(f.start) <= end + 0.05 && Number(f.end ?? f.start) >= start - 0.05);
    const worst = hits.reduce((w, f) => Math.max(w, severityRank(f.severity)), -1);
    list.append(h("li", {
      class: `line speaker-${line.speaker || "unknown"}${hits.length ? ` flagged flag-${["info", "low", "medium", "high", "critical"][worst]}` : ""}`,
      "data-testid": "report-line", "data-start": String(start), "data-channel": String(line.channel ?? ""),
      "data-finding-ids": hits.map((f) => f.finding_id).join(" ") || null, tabindex: "-1",
    },
    h("span", { class: "t" }, formatAudio(start)), h("span", { class: "who" }, speakerLabel(line.speaker)),
    h("span", { class: "text" }, guardDigits(line.text)),
    hits.map((f) => h("span", { class: "flag-tag" }, severityBadge(f.severity), ` ${f.rule_id}: ${humanize(f.outcome)}`))));
  }
}
