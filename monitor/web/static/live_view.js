// The live view: one card per active call, kept in step with the /live feed; ended calls linger briefly. While
// another view is shown it does no DOM work and rebuilds its cards from the shared state when shown again.

import { h, clear } from "./dom.js";
import { CallCard } from "./call_card.js";


export class LiveView {
  // state: the shared LiveState; actions: {ack(findingId) -> string|null, send(message) -> string|null}
  constructor(state, actions) {
    this.state = state;
    this.actions = actions;
    this.active = true;
    this.stale = false;
    this.cards = new Map();
    this.grid = h("div", { class: "call-grid", "data-testid": "call-grid" });
    this.empty = h("p", { class: "empty muted", "data-testid": "no-calls" }, "No active calls.");
    this.el = h("section", { class: "view live-view", "aria-labelledby": "live-title" },
      h("h1", { id: "live-title", class: "view-title" }, "Active calls"), this.empty, this.grid);
    setInterval(() => this.tick(), 1000);
  }

  // Changes from LiveState.apply; while hidden only remembered as "rebuild when shown".
  changed(changes) {
    if (!this.active) {
      this.stale = this.stale || changes.length > 0;
      return;
    }
    for (const change of changes) this.applyChange(change);
    this.empty.hidden = this.cards.size > 0;
  }

  setActive(on) {
    this.active = on;
    if (on && this.stale) {
      this.stale = false;
      this.changed([{ what: "reset" }]);
    }
  }

  applyChange(change) {
    if (change.what === "reset") {
      this.cards.clear();
      clear(this.grid);
      for (const call of this.state.calls.values()) this.addCard(call);
      return;
    }
    if (change.what === "gone") {
      this.gone(change.callId);
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
  }

  // The call ended a while ago and left the shared state (app.js): its card goes.
  gone(callId) {
    this.cards.get(callId)?.el.remove();
    this.cards.delete(callId);
  }

  tick() {
    if (!this.active) return;
    const now = performance.now();
    for (const card of this.cards.values()) if (!card.call.ended) card.tick(now);
  }

  // Enable or disable the ack buttons with the connection (acks need the socket).
  setConnected(open) {
    this.el.classList.toggle("offline", !open);
    for (const button of this.el.querySelectorAll("button.ack")) button.disabled = !open;
  }
}
