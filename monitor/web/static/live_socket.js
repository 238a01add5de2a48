// The /live WebSocket: JSON messages in, reconnects with backoff (≤ 2 s between tries), reports its state.

const BACKOFF_MS = [100, 250, 500, 1000, 2000];

export function liveURL(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/live`;
}

export class LiveSocket {
  // onMessage(obj) for every JSON message; onState(state, detail) with state "connecting" | "open" | "down".
  constructor(url, onMessage, onState) {
    this.url = url;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.failures = 0;
    this.timer = null;
  }

  start() {
    this.onState("connecting", "");
    this.connect();
  }

  connect() {
    this.timer = null;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.scheduleRetry(String(err));
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.failures = 0;
      this.onState("open", "");
    });
    ws.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn("callwarden: ignoring a /live message that is not JSON");
        return;
      }
      this.onMessage(msg);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.scheduleRetry(event.reason || `code ${event.code}`);
    });
    ws.addEventListener("error", () => { /* a close event follows */ });
  }

  scheduleRetry(detail) {
    const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures += 1;
    this.onState("down", detail);
    if (this.timer === null) this.timer = setTimeout(() => this.connect(), delay);
  }

  // Send a JSON message; false when the socket is not open (the caller tells the user).
  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }
}
