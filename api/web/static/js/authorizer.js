// Authorizer workstation: claim next, the image with zoom and field boxes, settled values with
// their sources and the flags, and approve / reject / return from the keyboard.
import { api, el, t, typing } from "./common.js";

const $ = (id) => document.getElementById(id);
const reasons = JSON.parse($("reasons").textContent);
let view = null; // the claimed task's view from the API
let pendingDecision = null;
let zoom = 1;

function say(text, kind = "") {
  $("message").textContent = text;
  $("message").className = `prompt ${kind}`;
}

async function refreshQueue() {
  try {
    const q = await api("/api/authorization/queues");
    const parts = Object.entries(q.queues).map(([name, v]) => `${name}: ${v.open}${v.overdue ? ` (⚠ ${v.overdue})` : ""}`);
    $("queue-info").textContent = `${t("auth.queue")} · ${parts.join(" · ") || "0"}`;
  } catch (e) { /* informational only */ }
}

async function claim() {
  say("");
  let next;
  try { next = await api("/api/authorization/next"); } catch (e) { return say(e.message, "error"); }
  refreshQueue();
  if (!next) {
    view = null;
    $("work").hidden = true;
    $("empty").hidden = false;
    return;
  }
  view = next;
  $("empty").hidden = true;
  $("work").hidden = false;
  closeReason();
  render();
}

async function render() {
  const v = view.voucher;
  $("voucher-serial").textContent = `${v.form || ""} ${v.serial || ""}`;
  $("voucher-image").src = `${v.image_url}?v=${v.image_version}`;
  const tbody = $("fields");
  tbody.replaceChildren();
  for (const f of view.fields) {
    tbody.append(el("tr", { "data-field": f.name }, el("td", { text: f.label || f.name }),
      el("td", { class: "mono", text: f.value ?? "" }), el("td", {}, el("span", { class: "badge", text: f.source ? t(`dash.source.${f.source === "keyed" ? "keyed" : f.source}`) : "—" }))));
  }
  const flags = $("flags");
  flags.replaceChildren();
  const all = [...(v.flags || []).map((f) => f.message || f.code || JSON.stringify(f)), ...(view.task.reasons || [])];
  if (v.qr_status === "invalid") all.push("QR ✗");
  if (!all.length) flags.append(el("li", { class: "muted", text: t("common.none") }));
  for (const f of all) flags.append(el("li", { class: "flag", text: f }));
  const view0 = $("view");
  view0.querySelectorAll(".box").forEach((b) => b.remove());
  try {
    const layout = await api(`/authorizer/layout/${v.id}`);
    for (const [name, b] of Object.entries(layout.boxes)) {
      const node = el("div", { class: "box", title: name, "data-field": name });
      Object.assign(node.style, { left: `${b[0] * 100}%`, top: `${b[1] * 100}%`, width: `${b[2] * 100}%`, height: `${b[3] * 100}%` });
      view0.append(node);
    }
  } catch (e) { /* boxes are a help, not a must */ }
  $("btn-approve").focus();
}

function setZoom(z) {
  zoom = Math.min(4, Math.max(0.5, z));
  $("view").style.width = `${zoom * 100}%`;
  $("zoom-level").textContent = `${Math.round(zoom * 100)}%`;
}

function openReason(decision) {
  if (!view) return;
  pendingDecision = decision;
  const select = $("reason");
  select.replaceChildren(...Object.entries(reasons[decision]).map(([code, label]) => el("option", { value: code, text: `${label} (${code})` })));
  $("reason-box").hidden = false;
  select.focus();
}

function closeReason() {
  pendingDecision = null;
  $("reason-box").hidden = true;
  $("comment").value = "";
}

async function decide(decision, reasonCode = null, comment = null) {
  if (!view) return;
  try {
    const out = await api(`/api/authorization/tasks/${view.task.id}/decision`, {
      method: "POST", body: { decision, reason_code: reasonCode, comment, token: view.token },
    });
    say(`${t(`auth.${decision}`)} ✓ → ${t(`status.${out.voucher_status}`)}`, "notice");
    closeReason();
    view = null;
    $("work").hidden = true;
    $("btn-claim").focus();
    refreshQueue();
  } catch (e) {
    say(e.message, "error");
  }
}

$("btn-claim").addEventListener("click", claim);
$("btn-approve").addEventListener("click", () => decide("approve"));
$("btn-reject").addEventListener("click", () => openReason("reject"));
$("btn-return").addEventListener("click", () => openReason("return"));
$("btn-cancel").addEventListener("click", closeReason);
$("zoom-in").addEventListener("click", () => setZoom(zoom + 0.25));
$("zoom-out").addEventListener("click", () => setZoom(zoom - 0.25));
$("decision-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (pendingDecision) decide(pendingDecision, $("reason").value, $("comment").value || null);
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && pendingDecision) { e.preventDefault(); closeReason(); $("btn-approve").focus(); return; }
  if (typing(e) || e.ctrlKey || e.altKey || e.metaKey) return;
  const k = e.key.toLowerCase();
  if (k === "n") { e.preventDefault(); claim(); }
  else if (k === "a" && view) { e.preventDefault(); decide("approve"); }
  else if (k === "r" && view) { e.preventDefault(); openReason("reject"); }
  else if (k === "b" && view) { e.preventDefault(); openReason("return"); }
  else if (k === "+" || k === "=") { e.preventDefault(); setZoom(zoom + 0.25); }
  else if (k === "-") { e.preventDefault(); setZoom(zoom - 0.25); }
});
refreshQueue();
$("reason").addEventListener("keydown", (e) => {
  if (e.key === "Enter") { e.preventDefault(); $("decision-form").requestSubmit(); }
});
