// Teller upload: drag-and-drop or picker; one XHR per file for per-file progress and result.
import { csrfToken, el, t } from "./common.js";

const zone = document.getElementById("dropzone");
const input = document.getElementById("file-input");
const tbody = document.querySelector("#upload-table tbody");
const summary = document.getElementById("summary");
const counts = { accepted: 0, duplicate: 0, refused: 0 };
const CONCURRENCY = 3;
const queue = [];
let running = 0;

function showSummary() {
  summary.textContent = t("upload.summary", counts);
}

function reasonText(result) {
  if (result.status === "duplicate") return t("upload.duplicate");
  if (result.status === "refused") {
    const code = result.error?.code || "refused";
    const known = t(`refusal.${code}`);
    return `${t("upload.refused")}: ${known === `refusal.${code}` ? result.error?.message || code : known}`;
  }
  return t("upload.accepted");
}

function addRow(file) {
  const bar = el("progress", { max: 100, value: 0 });
  const result = el("span", { class: "badge", text: t("upload.waiting") });
  const row = el("tr", { "data-file": file.name }, el("td", { text: file.name }), el("td", {}, bar), el("td", {}, result));
  tbody.append(row);
  return { row, bar, result };
}

function finish(ui, fileResult) {
  ui.bar.value = 100;
  ui.result.className = `badge r-${fileResult.status}`;
  ui.result.textContent = reasonText(fileResult);
  ui.row.dataset.result = fileResult.status;
  if (fileResult.error?.code) ui.row.dataset.code = fileResult.error.code;
  if (fileResult.voucher_id || fileResult.duplicate_of) {
    const id = fileResult.voucher_id || fileResult.duplicate_of;
    ui.result.after(" ", el("a", { href: `/vouchers/${id}`, class: "mono", text: id.slice(0, 8) }));
  }
  counts[fileResult.status] = (counts[fileResult.status] || 0) + 1;
  showSummary();
}

function send(file, ui) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    form.append("files", file, file.name);
    xhr.open("POST", "/api/vouchers");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Idempotency-Key", crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) ui.bar.value = Math.round((e.loaded / e.total) * 95); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 401) { location.href = "/login?next=/teller/upload"; return resolve(); }
      const fileResult = body?.results?.[0] || { status: "refused", error: body?.error || { code: `http_${xhr.status}` } };
      finish(ui, fileResult);
      resolve();
    };
    xhr.onerror = () => { finish(ui, { status: "refused", error: { code: "network_error", message: t("common.network_error") } }); resolve(); };
    ui.result.textContent = t("upload.uploading");
    xhr.send(form);
  });
}

function pump() {
  while (running < CONCURRENCY && queue.length) {
    const [file, ui] = queue.shift();
    running += 1;
    send(file, ui).then(() => { running -= 1; pump(); });
  }
}

function enqueue(files) {
  for (const file of files) queue.push([file, addRow(file)]);
  pump();
}

zone.addEventListener("click", () => input.click());
zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
document.getElementById("pick").addEventListener("click", () => input.click());
input.addEventListener("change", () => { enqueue([...input.files]); input.value = ""; });
for (const type of ["dragenter", "dragover"]) zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("over"); });
for (const type of ["dragleave", "drop"]) zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.remove("over"); });
zone.addEventListener("drop", (e) => enqueue([...e.dataTransfer.files]));
