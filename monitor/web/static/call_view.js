// One active call's live detail (#/call/<id>), opened from the wallboard: its full card, kept live; once the call is
// no longer active, a link to its stored report.

import { h, clear } from "./dom.js";
import { CallCard } from "./call_card.js";

export class LiveCallView {
  // state: the shared LiveState; actions: as CallCard's
  constructor(state, actions) {
    this.state = state;
    this.actions = actions;
    this.callId = null;
    this.card = null;
    this.el = h("section", { class: "view call-view", "aria-labelledby": "call-view-title" });
    setInterval(() => { if (this.card && !this.card.call.ended) this.card.tick(); }, 1000);
  }

  show(callId) {
    this.callId = callId;
    this.render();
  }

  hide() {
    this.callId = null;
    this.card = null;
  }

  render() {
    const id = this.callId;
    const call = this.state.call(id);
    this.card = call ? new CallCard(call, this.actions) : null;
    clear(this.el).append(
      h("div", { class: "report-head" },
        h("h1", { id: "call-view-title", class: "view-title" }, `Live call — ${id}`),
        h("div", { class: "report-actions" },
          h("a", { class: "button", href: "#/wallboard", "data-testid": "back-to-wallboard" }, "← Wallboard"),
          h("a", { class: "button", href: `#/calls/${encodeURIComponent(id)}` }, "Stored report"))),
      this.card ? this.card.el
        : h("p", { class: "empty muted", "data-testid": "call-not-live" }, "This call is not active (any more). ",
          h("a", { href: `#/calls/${encodeURIComponent(id)}` }, "Open its report")));
    this.card?.tick();
  }

  changed(changes) {
    if (this.callId === null) return;
    for (const change of changes) {
      if (change.what === "reset" || (change.what === "call" && change.callId === this.callId)) {
        this.render();
        continue;
      }
      if (!this.card || change.callId !== this.callId) continue;
      if (change.what === "line") this.card.line(change.line);
      else if (change.what === "finding") this.card.finding(change.entry);
      else if (change.what === "clock") this.card.tick();
      else if (change.what === "ended") this.card.ended();
    }
  }
}
