// Progressive enhancement only: every page works without JavaScript.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// A wide table scrolls sideways inside its .table-wrap box. When it does, the box becomes
// focusable (a group named after the table) so it can be scrolled with the keyboard
// (WCAG 2.1.1); a box that fits gets nothing, so it adds no tab stop.
(() => {
  const nameOf = (box) => {
    const caption = box.querySelector("caption");
    const text = caption ? caption.firstChild && caption.firstChild.textContent
      : (box.closest("section") || document).querySelector("h1, h2, h3")?.textContent;
    return (text || "").trim().replace(/\s+/g, " ");
  };
  const update = () => {
    document.querySelectorAll(".table-wrap").forEach((box) => {
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.dataset.scrollRegion = "";
        const name = nameOf(box);
        if (name) {
          box.setAttribute("role", "group");
          box.setAttribute("aria-label", name);
        }
      } else if (!scrolls && "scrollRegion" in box.dataset) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        delete box.dataset.scrollRegion;
      }
    });
  };
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(() => { pending = false; update(); });
  };
  document.addEventListener("DOMContentLoaded", () => {
    update();
    window.addEventListener("resize", schedule);
    new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
  });
})();
