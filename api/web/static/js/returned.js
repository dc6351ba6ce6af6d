// Returned vouchers: rescan (a new image through the pipeline again) or cancel, per row.
import { api, csrfToken, t } from "./common.js";

function outcome(row, text, kind) {
  const node = row.querySelector(".outcome");
  node.textContent = text;
  node.className = `outcome ${kind}`;
  row.dataset.outcome = kind;
}

for (const row of document.querySelectorAll("tr[data-voucher]")) {
  const id = row.dataset.voucher;
  const input = row.querySelector("input.rescan");
  row.querySelector(".rescan-btn").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/branch/vouchers/${id}/rescan`);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) outcome(row, `${t("upload.uploading")} ${Math.round((e.loaded / e.total) * 100)}%`, ""); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status < 300) outcome(row, `${t("returned.done")} → ${t(`status.${body.status}`)}`, "notice");
      else outcome(row, body?.error?.message || `HTTP ${xhr.status}`, "error");
    };
    xhr.onerror = () => outcome(row, t("common.network_error"), "error");
    xhr.send(form);
    input.value = "";
  });
  row.querySelector("button.cancel").addEventListener("click", async () => {
    try {
      const out = await api(`/api/branch/vouchers/${id}/cancel`, { method: "POST", body: {} });
      outcome(row, `${t("returned.done")} → ${t(`status.${out.status}`)}`, "notice");
    } catch (e) {
      outcome(row, e.message, "error");
    }
  });
}
