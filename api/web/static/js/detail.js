// Voucher detail: the original image is fetched only on request (viewing it is audited).
const btn = document.getElementById("show-image");
btn?.addEventListener("click", () => {
  const img = document.getElementById("voucher-image");
  img.src = btn.dataset.src;
  img.hidden = false;
  btn.hidden = true;
});
