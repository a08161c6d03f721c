// Workshops page: a "Copy link" button for the calendar subscription URL.
// Progressive enhancement: without JavaScript the read-only field can be copied by hand.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    const source = document.getElementById(button.dataset.copyTarget);
    const status = document.querySelector(".ws-copy-status");
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(source.value).then(() => {
        if (status) status.textContent = button.dataset.copied || "";
      });
    });
  });
  document.querySelectorAll("input[data-copy-source]").forEach((input) => {
    input.addEventListener("focus", () => input.select());
  });
});
