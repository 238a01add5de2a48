// The dashboard's entry: header (connection state, who am I, large type), hash routes, the /live connection.
//   #/live (default)        active calls
//   #/calls?agent=…         calls history with filters
//   #/calls/<call id>       one call's report

import { h } from "./dom.js";
import { LiveSocket, liveURL } from "./live_socket.js";
import { LiveView } from "./live_view.js";
import { HistoryView } from "./history_view.js";
import { ReportView } from "./report_view.js";

const WHO_KEY = "callwarden.who";
const LARGE_KEY = "callwarden.large";

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
      h("a", { href: "#/calls", "data-route": "calls", "aria-keyshortcuts": "h" }, "History")),
    parts.connection,
    h("label", { class: "who", for: "who" }, "Who am I", parts.who),
    parts.large);
}

function main() {
  const connection = h("div", { class: "conn", "data-testid": "connection-state", "data-state": "connecting", role: "status" },
    STATE_TEXT.connecting);
  const banner = h("div", { class: "conn-banner", "data-testid": "connection-banner", role: "alert", hidden: true },
    "Disconnected from the live feed — reconnecting… What you see may be out of date.");
  const who = h("input", { id: "who", type: "text", "data-testid": "who-am-i", autocomplete: "name", placeholder: "your name",
    value: localStorage.getItem(WHO_KEY) || "" });
  who.addEventListener("input", () => localStorage.setItem(WHO_KEY, who.value.trim()));
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
  const live = new LiveView({
    ack(findingId) {
      const by = who.value.trim();
      if (!by) {
        who.focus();
        return "Enter your name in “Who am I” first.";
      }
      if (!socket.send({ type: "ack", finding_id: findingId, by })) return "Not connected — try again once reconnected.";
      return "Sent…";
    },
  });
  socket = new LiveSocket(liveURL(), (msg) => live.handle(msg), (state, detail) => {
    connection.dataset.state = state;
    connection.textContent = STATE_TEXT[state] || state;
    connection.title = detail || "";
    banner.hidden = state !== "down";
    document.body.classList.toggle("disconnected", state === "down");
    live.setConnected(state === "open");
  });

  const history = new HistoryView();
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
    if (parts[0] === "calls" && parts.length > 1) {
      view = report; name = "report";
      report.show(decodeURIComponent(parts.slice(1).join("/")));
    } else if (parts[0] === "calls") {
      view = history; name = "calls";
      history.show(new URLSearchParams(query));
    }
    outlet.replaceChildren(view.el);
    document.body.dataset.view = name;
    for (const tab of document.querySelectorAll(".tabs a")) {
      const current = tab.dataset.route === (name === "report" ? "calls" : name);
      if (current) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
    }
  };
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target.closest?.("input, select, textarea, [contenteditable]");
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "l") location.hash = "#/live";
    else if (ev.key === "h") location.hash = "#/calls";
    else if (ev.key === "t") large.click();
  });
  route();
  socket.start();
}

main();
