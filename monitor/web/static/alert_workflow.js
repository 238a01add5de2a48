// An alert's workflow: its state (assignee, resolution, escalations, notes) and the forms to act on it — note,
// assign, resolve (with a reason), reopen, escalate. Actions go over /live; the acting user is the signed-in one.

import { h, formatWall, guardDigits, humanize } from "./dom.js";

export const RESOLUTION_REASONS = ["false_positive", "agent_coached", "customer_remediated", "no_action_needed", "other"];

// The alert's state from its actions in order (the same fold as monitor/store/records.py alert_state).
export function alertState(actions) {
  let assignee = "", resolved = null;
  const escalations = [], notes = [];
  for (const a of actions || []) {
    if (a.action === "assign") assignee = a.target || "";
    else if (a.action === "resolve") resolved = a;
    else if (a.action === "reopen") resolved = null;
    else if (a.action === "escalate") escalations.push(a);
    if (a.note) notes.push(a);
  }
  return { assignee, resolved, escalations, notes };
}

const VERB = { note: "noted", assign: "assigned to", resolve: "resolved", reopen: "reopened", escalate: "escalated to" };

function historyItem(a) {
  const what = a.action === "assign" || a.action === "escalate" ? `${VERB[a.action]} ${a.target}`
    : a.action === "resolve" ? `${VERB.resolve} (${humanize(a.reason)})` : VERB[a.action] || a.action;
  return h("li", { "data-testid": "workflow-entry", "data-action": a.action },
    h("span", { class: "muted" }, `${formatWall(a.at, true)} `), h("strong", {}, a.by || "?"), ` ${what}`,
    a.note ? h("q", { class: "note" }, guardDigits(a.note)) : null);
}

// The state line and history of one alert.
export function workflowSummary(actions) {
  const st = alertState(actions);
  const tags = [];
  if (st.resolved) tags.push(h("span", { class: "tag tag-resolved", "data-testid": "alert-resolved" },
    `✓ Resolved: ${humanize(st.resolved.reason)}`));
  if (st.assignee) tags.push(h("span", { class: "tag tag-assignee", "data-testid": "alert-assignee" }, `Assigned: ${st.assignee}`));
  if (st.escalations.length) tags.push(h("span", { class: "tag tag-escalated", "data-testid": "alert-escalated" },
    `▲ Escalated: ${st.escalations[st.escalations.length - 1].target}`));
  return h("div", { class: "workflow", "data-testid": "workflow" },
    tags.length ? h("div", { class: "workflow-tags" }, tags) : null,
    actions && actions.length ? h("ol", { class: "workflow-history", "data-testid": "workflow-history" },
      actions.map(historyItem)) : null);
}

// Buttons and one inline form; send(message) → a string to show (an error, or "Sent…").
export function workflowControls(findingId, actions, send) {
  const st = alertState(actions);
  const status = h("span", { class: "workflow-status", role: "status", "data-testid": "workflow-status" });
  const formSlot = h("div", { class: "workflow-form-slot" });
  const open = (action) => {
    formSlot.replaceChildren(actionForm(action, (fields) => {
      status.textContent = send({ type: "alert_action", action, finding_id: findingId, ...fields }) || "";
      formSlot.replaceChildren();
    }, () => formSlot.replaceChildren()));
    formSlot.querySelector("input, select, textarea")?.focus();
  };
  const button = (action, label) => h("button", {
    type: "button", class: "wf", "data-testid": `wf-${action}`, onclick: () => open(action),
  }, label);
  return h("div", { class: "workflow-actions" },
    button("note", "Note"), button("assign", "Assign"),
    st.resolved ? button("reopen", "Reopen") : button("resolve", "Resolve"),
    button("escalate", "Escalate"), status, formSlot);
}

function actionForm(action, submit, cancel) {
  const fields = [];
  const target = action === "assign" || action === "escalate"
    ? h("input", { type: "text", name: "target", required: true, maxlength: "64", "data-testid": "wf-target",
      placeholder: action === "assign" ? "user name" : "team or person, e.g. compliance" }) : null;
  if (target) fields.push(h("label", {}, action === "assign" ? "Assign to " : "Escalate to ", target));
  const reason = action === "resolve" ? h("select", { name: "reason", "data-testid": "wf-reason", required: true },
    h("option", { value: "" }, "— reason —"), RESOLUTION_REASONS.map((r) => h("option", { value: r }, humanize(r)))) : null;
  if (reason) fields.push(h("label", {}, "Reason ", reason));
  const note = h("textarea", { name: "note", rows: "2", maxlength: "1000", "data-testid": "wf-note",
    required: action === "note", placeholder: action === "note" ? "note" : "note (optional)" });
  note.addEventListener("input", () => note.setCustomValidity(""));
  fields.push(h("label", { class: "wf-note" }, "Note ", note));
  const form = h("form", { class: "workflow-form", "data-testid": "workflow-form", "data-action": action },
    fields,
    h("button", { type: "submit", "data-testid": "wf-submit" }, { note: "Add note", assign: "Assign", resolve: "Resolve",
      reopen: "Reopen", escalate: "Escalate" }[action]),
    h("button", { type: "button", onclick: cancel }, "Cancel"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (reason && reason.value === "other" && !note.value.trim()) {
      note.setCustomValidity("Say why (reason “other” needs a note).");
      note.reportValidity();
      return;
    }
    note.setCustomValidity("");
    submit({ target: target ? target.value.trim() : "", reason: reason ? reason.value : "", note: note.value });
  });
  return form;
}
