// Shows a voucher's original in the side pane when its preview button is pressed.
const img = document.getElementById("preview");
for (const btn of document.querySelectorAll("button.preview")) {
  btn.addEventListener("click", () => { img.src = btn.dataset.src; img.hidden = false; });
}
