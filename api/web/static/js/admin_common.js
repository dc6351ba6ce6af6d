// Admin editors: JSON parsing with a readable message, and the API's error shown in full.
import { el, t } from "./common.js";

export function clearError(box) {
  box.hidden = true;
  box.replaceChildren();
}

// The API answers {"error": {"code", "message", "details"}}; validation details list loc + msg.
export function showApiError(box, error, field) {
  const head = el("p", { class: "error" }, el("strong", { text: error.message }), " ", el("code", { text: `(${error.code})` }));
  box.replaceChildren(head);
  const details = error.details || {};
  const items = Array.isArray(details.errors)
    ? details.errors.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".") || "—"}: ${d.msg}`)
    : Object.keys(details).length ? [JSON.stringify(details)] : [];
  if (items.length) {
    box.append(el("p", { class: "muted", text: t("admin.error_details") }), el("ul", { class: "error mono" }, ...items.map((i) => el("li", { text: i }))));
  }
  box.hidden = false;
  if (field) field.setAttribute("aria-invalid", "true");
}

// The parsed value, or undefined after showing why the text is not JSON.
export function parseJson(area, box) {
  area.removeAttribute("aria-invalid");
  try {
    return JSON.parse(area.value || "{}");
  } catch (e) {
    box.replaceChildren(el("p", { class: "error", text: t("admin.bad_json", { detail: e.message }) }));
    box.hidden = false;
    area.setAttribute("aria-invalid", "true");
    area.focus();
    return undefined;
  }
}
