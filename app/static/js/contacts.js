// Contact list bulk actions (templates/contacts/index.html). Progressive enhancement:
// without JavaScript the checkboxes and the "apply to" radios post as they are. Here we
// add a "select this page" checkbox in the table head and a live count of the selection,
// and keep the radios in step with what is checked.
(() => {
  "use strict";
  const form = document.querySelector("form[data-bulk]");
  if (!form) return;
  const pageBox = form.querySelector("[data-bulk-page]");
  const rows = Array.from(form.querySelectorAll("[data-bulk-row]"));
  const scopes = Array.from(form.querySelectorAll("[data-bulk-scope]"));
  const counter = form.querySelector("[data-bulk-count]");
  const scope = (value) => scopes.find((radio) => radio.value === value);

  function chosenScope() {
    const checked = scopes.find((radio) => radio.checked);
    return checked ? checked.value : "selected";
  }

  function render() {
    const checked = rows.filter((box) => box.checked).length;
    if (pageBox) {
      pageBox.checked = checked > 0 && checked === rows.length;
      pageBox.indeterminate = checked > 0 && checked < rows.length;
    }
    if (!counter) return;
    const current = chosenScope();
    if (current === "all") {
      const radio = scope("all");
      const label = radio && form.querySelector(`label[for="${radio.id}"]`);
      counter.textContent = label ? label.textContent.trim() : "";
    } else {
      const n = current === "page" ? rows.length : checked;
      const template = n === 1 ? form.dataset.countOne : form.dataset.countOther;
      counter.textContent = (template || "").replace("{n}", n.toLocaleString());
    }
    counter.hidden = false;
  }

  if (pageBox) {
    pageBox.hidden = false;
    pageBox.addEventListener("change", () => {
      rows.forEach((box) => { box.checked = pageBox.checked; });
      const selected = scope("selected");
      if (selected) selected.checked = true;
      render();
    });
  }
  rows.forEach((box) => box.addEventListener("change", () => {
    const selected = scope("selected");
    if (selected && chosenScope() !== "selected") selected.checked = true;
    render();
  }));
  scopes.forEach((radio) => radio.addEventListener("change", () => {
    if (radio.value === "page") rows.forEach((box) => { box.checked = true; });
    render();
  }));
  render();
})();
