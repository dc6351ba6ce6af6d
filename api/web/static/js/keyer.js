// Keyer workstation: keyboard-only loop. The next task and its image are fetched while the
// current one is keyed, so Enter flips to an already-decoded slice. Each submission asks for the
// task after that in the same request (?next=true): one request per key.
import { ApiError, api, el, t } from "./common.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 3000;
let current = null; // {task, url, layout}
let upcoming = null; // Promise of the next item (or null when none waiting)
let shownAt = 0;
let keystrokes = 0;
let confirmFor = null; // the value whose warning the keyer has seen once
let pollTimer = null;
const validations = new Map(); // "field\u0000value" -> Promise of the server's verdict

// `task`: a task already leased (from a submission's answer), null for none, undefined to ask.
async function loadItem(task) {
  if (task === undefined) task = await api("/api/entry/next");
  if (!task) return null;
  const response = await fetch(task.image_url, { credentials: "same-origin" });
  if (!response.ok) throw new ApiError(response.status, null);
  const url = URL.createObjectURL(await response.blob());
  const img = new Image();
  img.src = url;
  await img.decode().catch(() => {});
  let layout = null;
  if (task.kind === "whole_voucher") layout = await api(`/keyer/tasks/${task.id}/layout`).catch(() => null);
  return { task, url, layout };
}

function prefetch(following) {
  const source = following ? following.then((task) => loadItem(task)) : loadItem();
  upcoming = source.catch(() => null);
}

// `following`: a promise of the task after the next one (a submission's answer), if any.
async function advance(following) {
  const pending = upcoming;
  upcoming = null;
  let item = pending ? await pending : null;
  if (!item) item = await loadItem().catch(() => null);
  current = item;
  if (!item) return showEmpty();
  show(item);
  prefetch(following);
}

function showEmpty() {
  delete document.body.dataset.task;
  $("slice-mode").hidden = true;
  $("whole-mode").hidden = true;
  $("empty").hidden = false;
  $("mode-label").textContent = "";
  clearTimeout(pollTimer);
  pollTimer = setTimeout(advance, POLL_MS);
}

function show(item) {
  $("empty").hidden = true;
  confirmFor = null;
  keystrokes = 0;
  shownAt = performance.now();
  document.body.dataset.task = item.task.id;
  if (item.task.kind === "whole_voucher") return showWhole(item);
  $("whole-mode").hidden = true;
  $("slice-mode").hidden = false;
  $("mode-label").textContent = t("keyer.mode_slice");
  const field = item.task.fields[0];
  $("slice").src = item.url;
  $("slice").alt = field.label;
  $("field-label").textContent = field.label;
  $("field-type").textContent = field.length ? `(${field.length})` : "";
  const input = $("value");
  input.value = "";
  input.removeAttribute("aria-invalid");
  input.dataset.field = field.name;
  setPrompt($("prompt"), "", "");
  input.focus();
}

function setPrompt(node, text, kind) {
  node.textContent = text;
  node.className = `prompt ${kind === "error" ? "error" : kind === "warning" ? "flag" : "muted"}`;
  node.dataset.kind = kind || "";
}

function validate(item, fieldName, value) {
  const key = `${item.task.id}\u0000${fieldName}\u0000${value}`;
  if (!validations.has(key)) {
    if (validations.size > 200) validations.clear();
    validations.set(key, api("/api/entry/validate", { method: "POST", body: { value, task_id: item.task.id, field_name: fieldName } }));
  }
  return validations.get(key);
}

function showVerdict(node, input, verdict) {
  if (!verdict.ok) {
    input.setAttribute("aria-invalid", "true");
    setPrompt(node, verdict.message || t("keyer.invalid"), "error");
  } else if (verdict.warning_code) {
    input.removeAttribute("aria-invalid");
    setPrompt(node, verdict.warning, "warning");
  } else {
    input.removeAttribute("aria-invalid");
    setPrompt(node, verdict.value && verdict.value !== input.value ? `→ ${verdict.value}` : "", "");
  }
}

let typingTimer = null;
function onType(input, node, fieldName) {
  keystrokes += 1;
  confirmFor = null;
  delete input.dataset.flag;
  clearTimeout(typingTimer);
  const item = current;
  typingTimer = setTimeout(async () => {
    if (!input.value || item !== current) return setPrompt(node, "", "");
    try {
      const verdict = await validate(item, fieldName, input.value);
      if (item === current && input.value) showVerdict(node, input, verdict);
    } catch (e) { /* the submit check will tell */ }
  }, 120);
}

// Enter in slice mode: check, then flip at once and send in the background.
async function submitSlice(flag = null) {
  const item = current;
  if (!item) return;
  const input = $("value");
  const field = item.task.fields[0];
  const body = { token: item.task.token, keystrokes, duration_ms: Math.round(performance.now() - shownAt) };
  if (flag) {
    body.flag = flag;
  } else {
    const value = input.value;
    if (!value.trim() && field.required) {
      input.setAttribute("aria-invalid", "true");
      return setPrompt($("prompt"), t("keyer.invalid"), "error");
    }
    let verdict;
    try { verdict = await validate(item, field.name, value); } catch (e) { return setPrompt($("prompt"), e.message, "error"); }
    if (item !== current) return;
    if (!verdict.ok) return showVerdict($("prompt"), input, verdict);
    if (verdict.warning_code && confirmFor !== value) {
      confirmFor = value;
      return setPrompt($("prompt"), `${verdict.warning} — Enter ✓`, "warning");
    }
    body.value = value;
    body.confirm_warning = Boolean(verdict.warning_code);
  }
  send(item, body);
}

function send(item, body) {
  const post = api(`/api/entry/tasks/${item.task.id}?next=true`, { method: "POST", body });
  bumpCount();
  // A refused key claimed nothing: then the task after the next is asked for with GET /next.
  advance(post.then((answer) => answer?.next ?? null, () => undefined));
  post.then(() => URL.revokeObjectURL(item.url), (err) => {
    // Put the refused task back in front of the keyer with the reason.
    if (err.code === "stale_token" || err.code === "lease_lost" || err.code === "task_closed") return;
    const shown = current;
    upcoming = Promise.resolve(shown);
    current = item;
    show(item);
    bumpCount(-1);
    setPrompt(item.task.kind === "whole_voucher" ? $("whole-prompt") : $("prompt"), err.message, "error");
  });
}

function bumpCount(delta = 1) {
  const node = $("stat-count");
  node.textContent = String(Math.max(0, Number(node.textContent || 0) + delta));
}

async function refreshStats() {
  try {
    const s = await api("/keyer/stats");
    $("stat-count").textContent = s.fields;
    $("stat-speed").textContent = s.fields_per_hour ?? "—";
    $("stat-accuracy").textContent = s.accuracy == null ? "—" : `${(s.accuracy * 100).toFixed(1)}%`;
  } catch (e) { /* figures refresh next time */ }
}

// Whole-voucher mode: the voucher image, one input per field, the focused field highlighted.
function showWhole(item) {
  $("slice-mode").hidden = true;
  $("whole-mode").hidden = false;
  $("mode-label").textContent = t("keyer.mode_voucher");
  $("whole-image").src = item.url;
  const view = $("whole-view");
  view.querySelectorAll(".box").forEach((b) => b.remove());
  const holder = $("whole-fields");
  holder.replaceChildren();
  setPrompt($("whole-prompt"), "", "");
  item.task.fields.forEach((field, i) => {
    const box = item.layout?.boxes?.[field.name];
    let boxNode = null;
    if (box) {
      boxNode = el("div", { class: "box", "data-field": field.name });
      Object.assign(boxNode.style, { left: `${box[0] * 100}%`, top: `${box[1] * 100}%`, width: `${box[2] * 100}%`, height: `${box[3] * 100}%` });
      view.append(boxNode);
    }
    const prompt = el("small", { class: "prompt", role: "status" });
    const input = el("input", { class: "key-input", style: "font-size:18px", "data-field": field.name, autocomplete: "off", spellcheck: "false" });
    input.addEventListener("focus", () => { view.querySelectorAll(".box").forEach((b) => b.classList.toggle("current", b === boxNode)); boxNode?.scrollIntoView({ block: "nearest" }); });
    input.addEventListener("input", () => onType(input, prompt, field.name));
    holder.append(el("label", {}, el("span", {}, el("b", { text: field.label }), field.required ? " *" : ""), input, prompt));
    if (i === 0) setTimeout(() => input.focus(), 0);
  });
}

async function submitWhole() {
  const item = current;
  const values = {};
  let bad = false;
  for (const input of $("whole-fields").querySelectorAll("input")) {
    const name = input.dataset.field;
    const prompt = input.nextElementSibling;
    if (input.dataset.flag) { values[name] = { flag: input.dataset.flag }; continue; }
    if (!input.value) { values[name] = { flag: "blank" }; continue; }
    const verdict = await validate(item, name, input.value).catch(() => ({ ok: false, message: t("common.network_error") }));
    if (!verdict.ok || (verdict.warning_code && input.dataset.confirmed !== input.value)) {
      showVerdict(prompt, input, verdict);
      if (verdict.ok) input.dataset.confirmed = input.value; // a second Enter confirms
      if (!bad) input.focus();
      bad = true;
      continue;
    }
    values[name] = { value: input.value, confirm_warning: Boolean(verdict.warning_code) };
  }
  if (bad || item !== current) return;
  send(item, { token: item.task.token, values, keystrokes, duration_ms: Math.round(performance.now() - shownAt) });
}

function markFocused(flag) {
  const input = document.activeElement;
  if (!input?.dataset?.field) return;
  input.value = "";
  input.dataset.flag = flag;
  input.placeholder = t(flag === "blank" ? "keyer.blank" : "keyer.illegible");
  const next = [...$("whole-fields").querySelectorAll("input")].find((n, i, all) => all[i - 1] === input);
  (next || input).focus();
}

$("slice-form").addEventListener("submit", (e) => { e.preventDefault(); submitSlice(); });
$("whole-form").addEventListener("submit", (e) => { e.preventDefault(); submitWhole(); });
$("value").addEventListener("input", () => onType($("value"), $("prompt"), current?.task.fields[0].name));
$("btn-illegible").addEventListener("click", () => submitSlice("illegible"));
$("btn-blank").addEventListener("click", () => submitSlice("blank"));
document.addEventListener("keydown", (e) => {
  if (e.key !== "F2" && e.key !== "F3") return;
  e.preventDefault();
  const flag = e.key === "F2" ? "illegible" : "blank";
  if (current?.task.kind === "whole_voucher") markFocused(flag);
  else submitSlice(flag);
});
setInterval(refreshStats, 20000);
advance();
