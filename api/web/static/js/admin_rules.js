// Routing and authorization rules: a form per kind; conditions are JSON, saved through the JSON API.
import { api, t } from "./common.js";
import { showApiError, clearError, parseJson } from "./admin_common.js";

for (const form of document.querySelectorAll("form.rule-form")) {
  const base = form.dataset.api;
  const defaults = JSON.parse(form.dataset.conditions);
  const keys = Object.keys(defaults);
  const area = form.elements.conditions;
  const errorBox = form.querySelector(".api-error");
  const heading = form.querySelector(".editing");
  const deleteBtn = form.querySelector("button.delete");
  const section = form.closest("section");
  const blank = {};
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    blank[input.name] = input.type === "checkbox" ? input.checked : input.value;
  }

  const fill = (rule, focus = true) => {
    clearError(errorBox);
    area.removeAttribute("aria-invalid");
    for (const input of form.querySelectorAll("input[name], select[name]")) {
      const value = rule && input.name in rule ? rule[input.name] : blank[input.name];
      if (input.type === "checkbox") input.checked = Boolean(value);
      else input.value = value ?? "";
    }
    const conditions = {};
    for (const key of keys) conditions[key] = rule ? rule[key] ?? defaults[key] : defaults[key];
    area.value = JSON.stringify(conditions, null, 2);
    heading.textContent = rule ? t("admin.edit_rule", { id: rule.id }) : heading.dataset.new;
    deleteBtn.disabled = !rule;
    if (focus) form.elements.name.focus();
  };

  const collect = () => {
    const conditions = parseJson(area, errorBox);
    if (conditions === undefined) return undefined;
    const body = {};
    for (const input of form.querySelectorAll("input[name], select[name]")) {
      if (input.name === "id") continue;
      if (input.type === "checkbox") body[input.name] = input.checked;
      else if (input.dataset.type === "int") body[input.name] = input.value === "" ? undefined : Number(input.value);
      else body[input.name] = input.value;
    }
    for (const [key, value] of Object.entries(conditions)) {
      body[key] = value === "" ? null : value;
    }
    return body;
  };

  const reload = (done) => { window.location.href = `/admin/rules?done=${done}#${section.id}`; };

  for (const row of section.querySelectorAll("tr[data-rule]")) {
    row.querySelector("button.edit").addEventListener("click", () => fill(JSON.parse(row.dataset.rule)));
  }
  form.querySelector("button.new").addEventListener("click", () => fill(null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError(errorBox);
    const body = collect();
    if (body === undefined) return;
    const id = form.elements.id.value;
    try {
      await api(id ? `${base}/${id}` : base, { method: id ? "PUT" : "POST", body });
      reload("saved");
    } catch (e) {
      showApiError(errorBox, e, area);
    }
  });
  deleteBtn.addEventListener("click", async () => {
    const id = form.elements.id.value;
    if (!id || !window.confirm(form.dataset.deleteLabel.replace("{id}", id))) return;
    try {
      await api(`${base}/${id}`, { method: "DELETE" });
      reload("deleted");
    } catch (e) {
      showApiError(errorBox, e);
    }
  });
  fill(null, false);
}
