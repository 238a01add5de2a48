// The live view's model: active calls built from /live messages (snapshot, call_started, transcript, finding,
// clock, acknowledged, call_ended). Pure data; the view listens to the change records `apply` returns.

export class LiveState {
  constructor() {
    this.calls = new Map();
  }

  // Apply one server message; returns a list of changes: {what, callId, ...}.
  apply(msg) {
    if (!msg || typeof msg !== "object") return [];
    const handler = HANDLERS[msg.type];
    return handler ? handler(this, msg) : [];
  }

  call(callId) {
    return this.calls.get(String(callId ?? ""));
  }
}

function newCall(started) {
  return {
    id: String(started.call_id ?? ""),
    started,
    transcript: new Map(),   // "channel:index" → transcript message (latest partial or the final)
    findings: new Map(),     // finding_id → {finding, wall_time, acknowledged}
    audioTime: 0,
    audioTimeAt: null,       // performance.now() when audioTime arrived
    ended: null,
  };
}

export function lineKey(msg) {
  return `${msg.channel ?? msg.speaker ?? "?"}:${msg.index ?? msg.start ?? "?"}`;
}

function addLine(call, msg) {
  const key = lineKey(msg);
  const prev = call.transcript.get(key);
  if (prev && prev.final && !msg.final) return null; // a late partial never replaces its final
  const line = { ...msg, final: Boolean(msg.final), key };
  call.transcript.set(key, line);
  return line;
}

function addFinding(call, msg) {
  const finding = msg.finding || {};
  const id = String(finding.finding_id ?? "");
  if (!id) return null;
  const prev = call.findings.get(id);
  const entry = { finding, wall_time: msg.wall_time, acknowledged: msg.acknowledged || prev?.acknowledged || null,
    actions: Array.isArray(msg.actions) ? [...msg.actions] : prev?.actions || [] };
  call.findings.set(id, entry);
  return entry;
}

const HANDLERS = {
  snapshot(state, msg) {
    state.calls = new Map();
    for (const item of Array.isArray(msg.calls) ? msg.calls : []) {
      const call = newCall(item);
      for (const line of Array.isArray(item.transcript) ? item.transcript : []) addLine(call, line);
      for (const f of Array.isArray(item.findings) ? item.findings : []) addFinding(call, f);
      if (call.id) state.calls.set(call.id, call);
    }
    return [{ what: "reset" }];
  },
  call_started(state, msg) {
    const call = newCall(msg);
    state.calls.set(call.id, call);
    return [{ what: "call", callId: call.id }];
  },
  transcript(state, msg) {
    const call = state.call(msg.call_id);
    const line = call && addLine(call, msg);
    return line ? [{ what: "line", callId: call.id, line }] : [];
  },
  finding(state, msg) {
    const call = state.call(msg.call_id);
    const entry = call && addFinding(call, msg);
    return entry ? [{ what: "finding", callId: call.id, entry }] : [];
  },
  clock(state, msg) {
    const call = state.call(msg.call_id);
    if (!call) return [];
    call.audioTime = Number(msg.audio_time) || 0;
    call.audioTimeAt = performance.now();
    return [{ what: "clock", callId: call.id }];
  },
  acknowledged(state, msg) {
    const call = state.call(msg.call_id) || [...state.calls.values()].find((c) => c.findings.has(msg.finding_id));
    const entry = call?.findings.get(String(msg.finding_id ?? ""));
    if (!entry) return [];
    entry.acknowledged = msg;
    return [{ what: "finding", callId: call.id, entry }];
  },
  // A supervisor acted on an alert (note, assign, resolve, reopen, escalate).
  alert_action(state, msg) {
    const call = state.call(msg.call_id) || [...state.calls.values()].find((c) => c.findings.has(msg.finding_id));
    const entry = call?.findings.get(String(msg.finding_id ?? ""));
    if (!entry) return [];
    entry.actions = [...entry.actions, msg];
    entry.actionError = "";
    return [{ what: "finding", callId: call.id, entry }];
  },
  // The service could not record an acknowledgement or an alert action: {type: "error", finding_id, [action,] error}.
  error(state, msg) {
    const id = String(msg.finding_id ?? "");
    const call = [...state.calls.values()].find((c) => c.findings.has(id));
    const entry = call?.findings.get(id);
    if (!entry) return [];
    if (msg.action) {
      entry.actionError = `${msg.action}: ${String(msg.error || "refused")}`;
      return [{ what: "finding", callId: call.id, entry }];
    }
    if (entry.acknowledged) return [];
    entry.ackError = String(msg.error || "the service refused the acknowledgement");
    return [{ what: "finding", callId: call.id, entry }];
  },
  call_ended(state, msg) {
    const call = state.call(msg.call_id);
    if (!call) return [];
    call.ended = msg;
    return [{ what: "ended", callId: call.id }];
  },
};

// Seconds since the call started: the audio clock, advanced locally between clock messages (at most 2 s).
export function callDuration(call, now = performance.now()) {
  if (call.audioTimeAt !== null) return call.audioTime + Math.min(2, (now - call.audioTimeAt) / 1000);
  const started = Number(call.started.started_wall);
  return started ? Math.max(0, Date.now() / 1000 - started) : 0;
}

const DISCLOSURE = { said: ["ok", "✓ disclosed"], late: ["warn", "late"], not_said: ["bad", "✗ missed"] };
const CONSENT = {
  consent_given: ["ok", "✓ given"], consent_yes: ["ok", "✓ given"],
  consent_refused: ["bad", "✗ refused"], consent_no: ["bad", "✗ refused"],
  consent_withdrawn: ["bad", "✗ withdrawn"], withdrawn: ["bad", "✗ withdrawn"],
  consent_unclear: ["warn", "? unclear"], unclear: ["warn", "? unclear"],
  not_asked: ["bad", "✗ not asked"],
};

function latestOfKind(call, kind) {
  return [...call.findings.values()].map((e) => e.finding).filter((f) => f.kind === kind);
}

// The call's compliance at a glance: {disclosure, consent, card}, each {state: ok|warn|bad|pending, label, title}.
export function complianceOf(call) {
  const disclosures = latestOfKind(call, "required_phrase");
  let disclosure = { state: "pending", label: "… pending", title: "no disclosure finding yet" };
  const worst = ["not_said", "late", "said"].find((o) => disclosures.some((f) => f.outcome === o));
  if (worst) {
    const [state, label] = DISCLOSURE[worst];
    disclosure = { state, label, title: disclosures.map((f) => `${f.rule_id}: ${f.outcome}`).join("\n") };
  }
  const consents = latestOfKind(call, "consent");
  let consent = { state: "pending", label: "… pending", title: "no consent finding yet" };
  if (consents.length) {
    const last = consents[consents.length - 1];
    const [state, label] = CONSENT[last.outcome] || ["warn", String(last.outcome ?? "unknown").replace(/_/g, " ")];
    consent = { state, label, title: `${last.rule_id}: ${last.outcome}` };
  }
  const cards = latestOfKind(call, "sensitive_number");
  const card = cards.length
    ? { state: "bad", label: `⚠ ALARM (${cards.length})`, title: cards.map((f) => `${f.rule_id}: ${f.outcome}`).join("\n") }
    : { state: "ok", label: "none spoken", title: "no card data detected" };
  return { disclosure, consent, card };
}
