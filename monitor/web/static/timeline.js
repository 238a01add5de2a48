// The report's call timeline (SVG): both legs' speech as bars, findings as labelled markers at their audio time.

import { s, formatAudio, severityRank, SEVERITIES } from "./dom.js";

const WIDTH = 1000;
const LEFT = 90;
const LANES = { agent: 18, customer: 44 };
const MARK_Y = 78;
const HEIGHT = 118;
const MARK_LETTER = { info: "i", low: "L", medium: "M", high: "H", critical: "C" };

function tickStep(duration) {
  for (const step of [5, 10, 15, 30, 60, 120, 300, 600, 1800]) if (duration / step <= 10) return step;
  return 3600;
}

// lines: [{speaker, start, end}], findings: [finding JSON], duration: audio seconds; onJump(t, channel).
export function timeline(lines, findings, duration, onJump) {
  const span = Math.max(1, duration);
  // rounded to 0.1 px: long float attributes would read like digit runs to the page's no-card-digits checks
  const x = (t) => Math.round(10 * (LEFT + ((WIDTH - LEFT - 10) * Math.min(Math.max(Number(t) || 0, 0), span)) / span)) / 10;
  const svg = s("svg", {
    class: "timeline", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "group", "data-testid": "timeline",
    "aria-label": `call timeline, ${formatAudio(span)} long, ${findings.length} findings`,
  });
  for (const [speaker, y] of Object.entries(LANES)) {
    svg.append(s("text", { x: 4, y: y + 10, class: "lane-label" }, speaker === "agent" ? "Agent" : "Customer"));
    svg.append(s("rect", { x: LEFT, y, width: WIDTH - LEFT - 10, height: 14, class: "lane" }));
  }
  for (const line of lines) {
    const y = LANES[line.speaker];
    if (y === undefined) continue;
    const x0 = x(line.start);
    svg.append(s("rect", { x: x0, y, width: Math.max(2, Math.round(10 * (x(line.end) - x0)) / 10), height: 14, class: `speech speech-${line.speaker}` }));
  }
  const step = tickStep(span);
  for (let t = 0; t <= span; t += step) {
    svg.append(s("line", { x1: x(t), x2: x(t), y1: 64, y2: 68, class: "tick" }));
    svg.append(s("text", { x: x(t), y: HEIGHT - 4, class: "tick-label", "text-anchor": "middle" }, formatAudio(t)));
  }
  svg.append(s("text", { x: 4, y: MARK_Y + 5, class: "lane-label" }, "Findings"));
  const sorted = [...findings].sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
  for (const f of sorted) svg.append(marker(f, x(f.start), onJump));
  return svg;
}

function marker(f, cx, onJump) {
  const sev = SEVERITIES.includes(f.severity) ? f.severity : "info";
  const label = `${sev.toUpperCase()} ${f.rule_id || "?"}: ${String(f.outcome || "").replace(/_/g, " ")} at ${formatAudio(f.start)}`;
  const a = s("a", {
    href: "#", class: `marker sev-mark-${sev}`, "data-testid": "timeline-marker", "data-finding-id": f.finding_id,
    "aria-label": label,
  },
  s("title", {}, label),
  s("line", { x1: cx, x2: cx, y1: 14, y2: MARK_Y - 9, class: "marker-line" }),
  s("circle", { cx, cy: MARK_Y, r: 9 }),
  s("text", { x: cx, y: MARK_Y + 4, "text-anchor": "middle", class: "marker-letter" }, MARK_LETTER[sev]));
  a.addEventListener("click", (ev) => { ev.preventDefault(); onJump(Number(f.start) || 0, f.channel); });
  return a;
}
