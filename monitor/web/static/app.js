// The dashboard's entry: header (connection state, the signed-in user, large type), hash routes, the /live connection.
//   #/live (default)        active calls, one card each
//   #/wallboard             active calls, one sortable row each
//   #/call/<call id>        one active call's live card (from the wallboard)
//   #/calls?agent=…         calls history with filters
//   #/coaching?by=agent     coaching figures per agent or queue over a period
//   #/calls/<call id>       one call's report

import { h, fetchJSON } from "./dom.js";
import { LiveSocket, liveURL } from "./live_socket.js";
import { LiveState } from "./live_state.js";
import { LiveView } from "./live_view.js";
import { Wallboard } from "./wallboard.js";
import { LiveCallView } from "./call_view.js";
import { CoachingView } from "./coaching_view.js";
import { HistoryView } from "./history_view.js";
import { ReportView } from "./report_view.js";

const LARGE_KEY = "callwarden.large";
const ENDED_LINGER_MS = 120000; // an ended call stays on the live views this long, then leaves the state

const STATE_TEXT = {
  connecting: "connecting…",
  open: "● live",
  down: "disconnected — reconnecting…",
};

function header(parts) {
  return h("header", { class: "top no-print" },
    h("a", { class: "brand", href: "#/live" }, "Callwarden"),
    h("nav", { class: "tabs", "aria-label": "views" },
      h("a", { href: "#/live", "data-route": "live", "aria-keyshortcuts": "l" }, "Live"),
      h("a", { href: "#/wallboard", "data-route": "wallboard", "aria-keyshortcuts": "w" }, "Wallboard"),
      h("a", { href: "#/calls", "data-route": "calls", "aria-keyshortcuts": "h" }, "History"),
      h("a", { href: "#/coaching", "data-route": "coaching", "aria-keyshortcuts": "c" }, "Coaching")),
    parts.connection,
    parts.who,
    parts.large);
}

function main() {
  const connection = h("div", { class: "conn", "data-testid": "connection-state", "data-state": "connecting", role: "status" },
    STATE_TEXT.connecting);
  const banner = h("div", { class: "conn-banner", "data-testid": "connection-banner", role: "alert", hidden: true },
    "Disconnected from the live feed — reconnecting… What you see may be out of date.");
  // Who acts is who signed in (HTTP Basic / Bearer): the server takes the name from the credentials, never the page.
  const who = h("span", { class: "who", "data-testid": "signed-in", title: "the signed-in user; actions are recorded under this name" },
    "…");
  fetchJSON("/api/me").then((me) => {
    who.textContent = me.open ? `${me.name} (open access)` : `Signed in as ${me.name} (${me.role})`;
    who.dataset.user = me.name;
  }).catch(() => { who.textContent = "user unknown"; });
  const large = h("button", { type: "button", class: "large-toggle", "data-testid": "large-toggle",
    "aria-pressed": "false", "aria-keyshortcuts": "t" }, "A+ Large text");
  const setLarge = (on) => {
    document.documentElement.classList.toggle("large", on);
    large.setAttribute("aria-pressed", String(on));
    localStorage.setItem(LARGE_KEY, on ? "1" : "");
  };
  large.addEventListener("click", () => setLarge(!document.documentElement.classList.contains("large")));
  setLarge(Boolean(localStorage.getItem(LARGE_KEY)));

  let socket = null;
  const state = new LiveState();
  const actions = {
    ack(findingId) {
      if (!socket.send({ type: "ack", finding_id: findingId })) return "Not connected — try again once reconnected.";
      return "Sent…";
    },
    send(message) {
      if (!socket.send(message)) return "Not connected — try again once reconnected.";
      return "Sent…";
    },
  };
  const live = new LiveView(state, actions);
  const wallboard = new Wallboard(state);
  const callView = new LiveCallView(state, actions);
  const views = [live, wallboard, callView];
  const dispatch = (changes) => { for (const view of views) view.changed(changes); };
  const onMessage = (msg) => {
    const changes = state.apply(msg);
    for (const change of changes) {
      if (change.what !== "ended") continue;
      const ended = state.call(change.callId);
      setTimeout(() => {
        if (state.call(change.callId) !== ended) return; // replaced by a new snapshot or a new call
        state.calls.delete(change.callId);
        dispatch([{ what: "gone", callId: change.callId }]);
      }, ENDED_LINGER_MS);
    }
    dispatch(changes);
  };
  socket = new LiveSocket(liveURL(), onMessage, (conn, detail) => {
    connection.dataset.state = conn;
    connection.textContent = STATE_TEXT[conn] || conn;
    connection.title = detail || "";
    banner.hidden = conn !== "down";
    document.body.classList.toggle("disconnected", conn === "down");
    live.setConnected(conn === "open");
  });

  const history = new HistoryView();
  const coaching = new CoachingView();
  const report = new ReportView();
  const outlet = h("main", { id: "main", tabindex: "-1" });
  document.body.append(
    h("a", { class: "skip", href: "#main", onclick: (ev) => { ev.preventDefault(); outlet.focus(); } }, "Skip to content"),
    header({ connection, who, large }), banner, outlet);

  const route = () => {
    const hash = location.hash.replace(/^#\/?/, "");
    const [path, query = ""] = hash.split("?");
    const parts = path.split("/").filter(Boolean);
    let view = live, name = "live";
    if (parts[0] === "coaching") {
      view = coaching; name = "coaching";
      coaching.show(new URLSearchParams(query));
    } else if (parts[0] === "wallboard") {
      view = wallboard; name = "wallboard";
    } else if (parts[0] === "call" && parts.length > 1) {
      view = callView; name = "call";
      callView.show(decodeURIComponent(parts.slice(1).join("/")));
    } else if (parts[0] === "calls" && parts.length > 1) {
      view = report; name = "report";
      report.show(decodeURIComponent(parts.slice(1).join("/")));
    } else if (parts[0] === "calls") {
      view = history; name = "calls";
      history.show(new URLSearchParams(query));
    }
    if (view !== callView) callView.hide();
    live.setActive(view === live);
    wallboard.setActive(view === wallboard);
    outlet.replaceChildren(view.el);
    document.body.dataset.view = name;
    for (const tab of document.querySelectorAll(".tabs a")) {
      const current = tab.dataset.route === ({ report: "calls", call: "wallboard" }[name] || name);
      if (current) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
    }
  };
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target.closest?.("input, select, textarea, [contenteditable]");
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "l") location.hash = "#/live";
    else if (ev.key === "h") location.hash = "#/calls";
    else if (ev.key === "w") location.hash = "#/wallboard";
    else if (ev.key === "c") location.hash = "#/coaching";
    else if (ev.key === "t") large.click();
  });
  route();
  socket.start();
}

main();
