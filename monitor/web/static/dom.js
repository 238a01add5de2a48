// DOM helpers: build elements with text only (never innerHTML), format times, label severities, hide digit runs.

const SVG_NS = "http://www.w3.org/2000/svg";

// h("div", {class: "x", "data-testid": "y"}, child, "text", ...) — strings become text nodes, never markup.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

// The same for SVG elements.
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Severities from least to most urgent; each shown with a text label and a symbol, never colour alone.
export const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const SEVERITY_SYMBOL = { info: "●", low: "▽", medium: "◆", high: "▲", critical: "■" };

export function severityRank(sev) {
  const i = SEVERITIES.indexOf(String(sev || "").toLowerCase());
  return i < 0 ? 0 : i;
}

export function severityBadge(sev) {
  const name = SEVERITIES.includes(String(sev)) ? String(sev) : "info";
  return h("span", { class: `sev sev-${name}`, "data-testid": "severity" },
    h("span", { "aria-hidden": "true" }, SEVERITY_SYMBOL[name] + " "), name.toUpperCase());
}

// Audio seconds → "m:ss" (or "h:mm:ss").
export function formatAudio(seconds) {
  const t = Math.max(0, Math.floor(Number(seconds) || 0));
  const hh = Math.floor(t / 3600), mm = Math.floor((t % 3600) / 60), ss = t % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hh > 0 ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

// Epoch seconds → local "YYYY-MM-DD HH:MM:SS" ("—" when absent).
export function formatWall(epochSeconds, timeOnly = false) {
  if (epochSeconds === undefined || epochSeconds === null || epochSeconds === "") return "—";
  const d = new Date(Number(epochSeconds) * 1000);
  if (Number.isNaN(d.getTime())) return "—";
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return timeOnly ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function humanize(code) {
  return String(code ?? "").replace(/[_.-]+/g, " ").trim();
}

// Defence in depth: the server redacts card numbers before anything is sent; should a run of 13+ digits
// (written or spoken) ever arrive anyway, it is hidden here rather than shown.
const DIGIT_RUN = /\d(?:[\s-]*\d){12,}/g;
const SPOKEN_DIGIT = "(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple|uno|due|tre|quattro|cinque|sei|sette|otto|nove)";
const SPOKEN_RUN = new RegExp(`\\b${SPOKEN_DIGIT}(?:[\\s,-]+${SPOKEN_DIGIT}){12,}\\b`, "gi");

export function guardDigits(text) {
  return String(text ?? "").replace(DIGIT_RUN, "[number hidden]").replace(SPOKEN_RUN, "[number hidden]");
}

// Read a JSON document from the server; throws an Error with a readable message on failure.
export async function fetchJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) {
    const body = await response.text().catch(() => "");
    throw new Error(`${url}: HTTP ${response.status} ${body.slice(0, 200)}`);
  }
  return response.json();
}

export const speakerLabel = (speaker) => ({ agent: "Agent", customer: "Customer" }[speaker] || "Unknown");
