// One active call's card: header, compliance chips, alerts (with ack) and the live two-leg transcript.

import { h, clear, severityBadge, severityRank, formatAudio, formatWall, guardDigits, humanize, speakerLabel }
  from "./dom.js";
import { complianceOf, callDuration } from "./live_state.js";
import { workflowControls, workflowSummary, alertState } from "./alert_workflow.js";

const MAX_LINES = 300;

export class CallCard {
  // actions: {ack(findingId) -> string|null (an error to show), send(message) -> string|null}
  constructor(call, actions) {
    this.call = call;
    this.actions = actions;
    this.lines = new Map();   // line key → <li>
    this.alerts = new Map();  // finding id → <li>
    this.build();
    for (const line of [...call.transcript.values()].sort((a, b) => (a.start ?? 0) - (b.start ?? 0))) this.line(line);
    for (const entry of call.findings.values()) this.finding(entry);
    this.compliance();
    this.ended();
  }

  build() {
    const meta = this.call.started.metadata || {};
    const id = this.call.id;
    this.durationEl = h("span", { class: "duration", "data-testid": "call-duration", title: "call duration" }, "0:00");
    this.chipsEl = h("ul", { class: "chips", "aria-label": "compliance state" });
    this.alertCount = h("span", { class: "count" }, "0");
    this.alertList = h("ol", { class: "alerts", "data-testid": "alerts", "aria-live": "polite" });
    this.noAlerts = h("p", { class: "muted none" }, "No alerts.");
    this.lineList = h("ol", { class: "lines", "data-testid": "transcript", tabindex: "0", "aria-label": `transcript of ${id}` });
    this.footer = h("footer", { class: "card-footer" });
    this.el = h("article", { class: "call-card", "data-testid": "call-card", "data-call-id": id, "aria-label": `call ${id}` },
      h("header", { class: "card-head" },
        h("h2", { class: "call-id" }, id),
        this.durationEl,
        h("dl", { class: "meta" },
          h("dt", {}, "Agent"), h("dd", { "data-testid": "call-agent" }, meta.agent || "—"),
          h("dt", {}, "Queue"), h("dd", {}, meta.queue || "—"),
          meta.direction ? [h("dt", {}, "Direction"), h("dd", {}, meta.direction)] : null,
          h("dt", {}, "Via"), h("dd", {}, this.call.started.protocol || "—"))),
      this.chipsEl,
      h("section", { class: "alerts-box" }, h("h3", {}, "Alerts ", this.alertCount), this.noAlerts, this.alertList),
      h("section", { class: "transcript-box" }, h("h3", {}, "Transcript"), this.lineList),
      this.footer);
  }

  tick(now) {
    this.durationEl.textContent = formatAudio(callDuration(this.call, now));
  }

  compliance() {
    const c = complianceOf(this.call);
    clear(this.chipsEl).append(
      chip("Disclosure", c.disclosure, "state-disclosure"),
      chip("Consent", c.consent, "state-consent"),
      chip("Card data", c.card, "state-card"));
    this.el.classList.toggle("alarm", c.card.state === "bad");
  }

  line(line) {
    const list = this.lineList;
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const li = h("li", {
      class: `line speaker-${line.speaker || "unknown"}${line.final ? "" : " partial"}`,
      "data-testid": "transcript-line", "data-final": String(Boolean(line.final)),
      "data-start": String(Number(line.start) || 0), "data-end": String(Number(line.end) || 0),
      "data-channel": String(line.channel ?? ""), "data-index": String(line.index ?? ""), tabindex: "-1",
    },
    h("span", { class: "t" }, formatAudio(line.start)),
    h("span", { class: "who" }, speakerLabel(line.speaker)),
    h("span", { class: "text" }, guardDigits(line.text), line.final ? null : h("span", { class: "sr-only" }, " (partial)")));
    const old = this.lines.get(line.key);
    if (old) {
      old.replaceWith(li);
    } else {
      const start = Number(line.start) || 0;
      const after = [...list.children].find((el) => Number(el.dataset.start) > start);
      list.insertBefore(li, after || null);
    }
    this.lines.set(line.key, li);
    while (list.children.length > MAX_LINES) {
      const first = list.firstElementChild;
      for (const [k, v] of this.lines) if (v === first) this.lines.delete(k);
      first.remove();
    }
    if (stick) list.scrollTop = list.scrollHeight;
  }

  finding(entry) {
    this.compliance();
    const f = entry.finding;
    if (severityRank(f.severity) === 0) return; // info findings record compliance; they are not alerts
    const li = this.alertItem(entry);
    const old = this.alerts.get(String(f.finding_id));
    if (old) {
      const hadFocus = old.contains(document.activeElement);
      const openForm = old.querySelector(".workflow-form-slot");
      if (openForm?.firstChild) li.querySelector(".workflow-form-slot").replaceWith(openForm); // keep what is typed
      old.replaceWith(li);
      if (hadFocus && !li.contains(document.activeElement)) li.querySelector("button, a")?.focus();
    } else {
      this.alertList.prepend(li);
    }
    this.alerts.set(String(f.finding_id), li);
    this.alertCount.textContent = String(this.alerts.size);
    this.noAlerts.hidden = this.alerts.size > 0;
  }

  alertItem(entry) {
    const f = entry.finding;
    const sev = String(f.severity || "info");
    const ack = entry.acknowledged;
    const message = h("span", { class: "ack-error", role: "alert" },
      !ack && entry.ackError ? `Not acknowledged: ${guardDigits(entry.ackError)}` : null);
    const action = ack
      ? h("span", { class: "ack-status", "data-testid": "ack-status" },
        `✓ Acknowledged by ${ack.by || "?"} at ${formatWall(ack.at, true)}`)
      : h("button", {
        type: "button", class: "ack", "data-testid": "ack-button", "data-finding-id": f.finding_id,
        onclick: () => { message.textContent = this.actions.ack(String(f.finding_id)) || ""; },
      }, "Acknowledge");
    const resolved = Boolean(alertState(entry.actions).resolved);
    return h("li", {
      class: `alert sev-edge-${sev}${ack ? " acked" : ""}${resolved ? " resolved" : ""}`, "data-testid": "alert",
      "data-finding-id": f.finding_id, "data-severity": sev, "data-resolved": String(resolved),
    },
    h("div", { class: "alert-head" },
      severityBadge(sev),
      h("strong", { class: "rule", "data-testid": "alert-rule" }, f.rule_id || "?"),
      h("span", { class: "outcome" }, humanize(f.outcome)),
      h("span", { class: "when muted" }, formatWall(entry.wall_time, true))),
    f.evidence ? h("blockquote", { class: "evidence", "data-testid": "alert-evidence" }, `“${guardDigits(f.evidence)}”`) : null,
    f.reason ? h("p", { class: "reason", "data-testid": "alert-reason" }, guardDigits(f.reason)) : null,
    h("div", { class: "alert-actions" },
      h("a", {
        href: "#", class: "jump", "data-testid": "jump-link",
        onclick: (ev) => { ev.preventDefault(); this.jumpTo(Number(f.start) || 0, f.channel); },
      }, `▶ ${formatAudio(f.start)} in transcript`),
      action, message),
    workflowSummary(entry.actions),
    entry.actionError ? h("p", { class: "ack-error", role: "alert", "data-testid": "workflow-error" },
      `Not recorded: ${guardDigits(entry.actionError)}`) : null,
    workflowControls(String(f.finding_id), entry.actions, (msg) => this.actions.send(msg)));
  }

  // Scroll to, highlight and focus the transcript line at audio time `t` (the same leg preferred).
  jumpTo(t, channel) {
    const items = [...this.lineList.children];
    const at = (el) => Number(el.dataset.start) <= t + 0.05;
    const sameLeg = items.filter((el) => at(el) && el.dataset.channel === String(channel));
    const target = sameLeg.pop() || items.filter(at).pop() || items[0];
    if (!target) return;
    for (const el of this.lineList.querySelectorAll(".flash")) el.classList.remove("flash");
    target.classList.add("flash");
    target.scrollIntoView({ block: "center", behavior: "smooth" });
    target.focus({ preventScroll: true });
  }

  ended() {
    const end = this.call.ended;
    clear(this.footer);
    this.el.classList.toggle("ended", Boolean(end));
    if (!end) return;
    const report = end.report || {};
    const verdict = report.passed === true ? "PASS" : report.passed === false ? "FAIL" : "";
    this.footer.append(
      h("span", {}, `Call ended (${humanize(end.reason) || "ended"})`),
      report.score !== undefined && report.score !== null
        ? h("span", { class: "score" }, ` — score ${report.score}`)
        : report.score === null ? h("span", { class: "score" }, " — incomplete, not scored") : null,
      verdict ? h("span", { class: `verdict ${verdict.toLowerCase()}` }, ` ${verdict}`) : null,
      " ",
      h("a", { href: `#/calls/${encodeURIComponent(this.call.id)}` }, "Open report"));
  }
}

function chip(name, state, testid) {
  return h("li", { class: `chip chip-${state.state}`, "data-testid": testid, "data-state": state.state, title: state.title },
    h("span", { class: "chip-name" }, `${name}: `), h("span", { class: "chip-value" }, state.label));
}
