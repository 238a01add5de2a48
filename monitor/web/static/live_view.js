// The live view: one card per active call, kept in step with the /live feed; ended calls linger briefly.

import { h, clear } from "./dom.js";
import { LiveState } from "./live_state.js";
import { CallCard } from "./call_card.js";

const ENDED_LINGER_MS = 120000;

export class LiveView {
  // actions: {ack(findingId) -> string|null}
  constructor(actions) {
    this.state = new LiveState();
    this.actions = actions;
    this.cards = new Map();
    this.grid = h("div", { class: "call-grid", "data-testid": "call-grid" });
    this.empty = h("p", { class: "empty muted", "data-testid": "no-calls" }, "No active calls.");
    this.el = h("section", { class: "view live-view", "aria-labelledby": "live-title" },
      h("h1", { id: "live-title", class: "view-title" }, "Active calls"), this.empty, this.grid);
    setInterval(() => this.tick(), 1000);
  }

  handle(msg) {
    for (const change of this.state.apply(msg)) this.applyChange(change);
    this.empty.hidden = this.cards.size > 0;
  }

  applyChange(change) {
    if (change.what === "reset") {
      this.cards.clear();
      clear(this.grid);
      for (const call of this.state.calls.values()) this.addCard(call);
      return;
    }
    const call = this.state.call(change.callId);
    if (!call) return;
    if (change.what === "call") {
      this.cards.get(call.id)?.el.remove();
      this.addCard(call);
      return;
    }
    const card = this.cards.get(call.id);
    if (!card) return;
    if (change.what === "line") card.line(change.line);
    else if (change.what === "finding") card.finding(change.entry);
    else if (change.what === "clock") card.tick();
    else if (change.what === "ended") this.ended(call, card);
  }

  addCard(call) {
    const card = new CallCard(call, this.actions);
    this.cards.set(call.id, card);
    this.grid.append(card.el);
    card.tick();
    if (call.ended) this.ended(call, card);
  }

  ended(call, card) {
    card.ended();
    setTimeout(() => {
      if (this.cards.get(call.id) !== card) return;
      card.el.remove();
      this.cards.delete(call.id);
      this.state.calls.delete(call.id);
      this.empty.hidden = this.cards.size > 0;
    }, ENDED_LINGER_MS);
  }

  tick() {
    const now = performance.now();
    for (const card of this.cards.values()) if (!card.call.ended) card.tick(now);
  }

  // Enable or disable the ack buttons with the connection (acks need the socket).
  setConnected(open) {
    this.el.classList.toggle("offline", !open);
    for (const button of this.el.querySelectorAll("button.ack")) button.disabled = !open;
  }
}
