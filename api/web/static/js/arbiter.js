// Arbiter workstation: the slice beside every keyed value and the OCR reading. A digit picks a
// value in one keystroke; E (or Tab) goes to the input to type the right one.
import { ApiError, api, el, t, typing } from "./common.js";

const $ = (id) => document.getElementById(id);
let current = null;
let options = [];
let confirmFor = null;

async function load() {
  const task = await api("/api/arbitration/next").catch(() => null);
  if (!task) {
    current = null;
    $("work").hidden = true;
    $("empty").hidden = false;
    setTimeout(load, 3000);
    return;
  }
  const response = await fetch(task.image_url, { credentials: "same-origin" });
  if (!response.ok) throw new ApiError(response.status, null);
  if (current?.url) URL.revokeObjectURL(current.url);
  current = { task, url: URL.createObjectURL(await response.blob()) };
  show();
}

function show() {
  const { task, url } = current;
  $("empty").hidden = true;
  $("work").hidden = false;
  $("slice").src = url;
  $("field-label").textContent = task.fields[0]?.label || "";
  $("typed").value = "";
  setPrompt("", "");
  confirmFor = null;
  options = [];
  const seen = new Set();
  for (const k of task.keys) {
    const shown = k.flag ? t(`keyer.${k.flag}`) : k.value;
    options.push({ label: `${t("arbiter.key")} ${options.length + 1}`, value: k.value, flag: k.flag, shown });
  }
  if (task.ocr_value != null) options.push({ label: t("arbiter.ocr"), value: task.ocr_value, shown: task.ocr_value, conf: task.ocr_confidence });
  const holder = $("choices");
  holder.replaceChildren();
  options.forEach((o, i) => {
    const key = String(i + 1);
    const same = seen.has(o.shown);
    seen.add(o.shown);
    holder.append(el("button", { type: "button", class: "choice", "data-choice": key, onclick: () => pick(i) },
      el("span", { class: "kbd", text: key }), el("span", { class: "muted", text: o.label }),
      el("span", { class: "val", text: o.shown ?? "" }),
      o.conf != null ? el("small", { class: "muted", text: `${Math.round(o.conf * 100)}%` }) : "",
      same ? el("small", { class: "muted", text: "=" }) : ""));
  });
  $("choices").querySelector("button")?.focus();
}

function setPrompt(text, kind) {
  $("prompt").textContent = text;
  $("prompt").className = `prompt ${kind === "error" ? "error" : kind === "warning" ? "flag" : "muted"}`;
}

function pick(i) {
  const o = options[i];
  if (!o) return;
  if (o.flag === "blank") return decide({ decision: "blank" });
  if (o.flag) return setPrompt(t("keyer.invalid"), "error");
  decide({ decision: "value", value: o.value });
}

async function decide(body) {
  const item = current;
  if (!item) return;
  const key = JSON.stringify(body);
  body.token = item.task.token;
  if (confirmFor === key) body.confirm_warning = true;
  try {
    await api(`/api/arbitration/tasks/${item.task.id}`, { method: "POST", body });
  } catch (err) {
    if (err.code === "confirm_warning") {
      confirmFor = key;
      return setPrompt(`${err.message} — ↵ ✓`, "warning");
    }
    return setPrompt(err.message, "error");
  }
  load();
}

$("arbiter-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("typed").value;
  if (value.trim()) decide({ decision: "value", value });
});
$("btn-blank").addEventListener("click", () => decide({ decision: "blank" }));
$("btn-unreadable").addEventListener("click", () => decide({ decision: "unreadable", reason: "arbiter" }));
document.addEventListener("keydown", (e) => {
  if (!current) return;
  if (e.key === "F3") { e.preventDefault(); return decide({ decision: "blank" }); }
  if (e.key === "F4") { e.preventDefault(); return decide({ decision: "unreadable", reason: "arbiter" }); }
  if (typing(e) || e.ctrlKey || e.altKey || e.metaKey) return;
  if (/^[1-9]$/.test(e.key)) { e.preventDefault(); pick(Number(e.key) - 1); }
  else if (e.key === "e" || e.key === "E") { e.preventDefault(); $("typed").focus(); }
});
load();
