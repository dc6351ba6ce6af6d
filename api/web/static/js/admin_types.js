// Voucher type editing: the definition is JSON in a textarea, saved with PUT /api/voucher-types/{name}.
import { api, t } from "./common.js";
import { showApiError, clearError, parseJson } from "./admin_common.js";

const editForm = document.getElementById("type-form");
if (editForm) {
  const area = document.getElementById("definition");
  const errorBox = document.getElementById("type-error");
  const status = document.getElementById("type-status");
  const save = async () => {
    clearError(errorBox);
    status.textContent = "";
    const definition = parseJson(area, errorBox);
    if (definition === undefined) return;
    try {
      const out = await api(`/api/voucher-types/${encodeURIComponent(editForm.dataset.name)}`, { method: "PUT", body: definition });
      document.querySelector("[data-testid=type-version]").textContent = out.version;
      document.querySelector("[data-testid=type-title]").textContent = out.title;
      area.value = JSON.stringify(out.definition, null, 2);
      status.textContent = t("admin.saved_version", { version: out.version });
    } catch (e) {
      showApiError(errorBox, e, area);
    }
  };
  editForm.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  area.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") { event.preventDefault(); save(); }
  });
}

const newForm = document.getElementById("new-type");
if (newForm) {
  const errorBox = document.getElementById("new-type-error");
  newForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError(errorBox);
    const area = newForm.elements.definition;
    const definition = parseJson(area, errorBox);
    if (definition === undefined) return;
    const name = newForm.elements.name.value.trim();
    definition.form = name;
    try {
      await api(`/api/voucher-types/${encodeURIComponent(name)}`, { method: "PUT", body: definition });
      window.location.href = `/admin/types/${encodeURIComponent(name)}`;
    } catch (e) {
      showApiError(errorBox, e, area);
    }
  });
}
