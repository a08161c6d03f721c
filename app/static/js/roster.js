// Door roster (templates/workshops/attendance/roster.html): instant filter by name or
// phone digits, and check-in/undo without reloading the page. Progressive enhancement:
// without JavaScript the search form and the buttons post and redirect as usual.
//
// A double tap never undoes: after a check-in the "Check in" button's place shows the time
// (not a control), "Undo" sits elsewhere, focus goes to that time, and for COOLDOWN_MS any
// further activation in the same row is ignored. The server's check-in is idempotent too.
(() => {
  "use strict";
  const root = document.querySelector("[data-roster]");
  if (!root) return;
  const list = root.querySelector("[data-roster-list]");
  const filter = root.querySelector("[data-roster-filter]");
  const empty = root.querySelector("[data-roster-empty]");
  const status = root.querySelector("[data-roster-status]");

  // Same folding as the server (validation.fold): no accents, lowercase, single spaces.
  const fold = (text) => (text || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .toLowerCase().replace(/_/g, " ").replace(/\s+/g, " ").trim();

  const COOLDOWN_MS = 2000;
  const lastAction = new Map(); // row id -> time of its last completed action

  function coolingDown(row) {
    if (!row) return false;
    const at = lastAction.get(row.id);
    return at !== undefined && Date.now() - at < COOLDOWN_MS;
  }

  const rows = () => Array.from(list ? list.querySelectorAll("[data-roster-row]") : []);

  function applyFilter() {
    if (!filter) return;
    const query = fold(filter.value);
    const digits = query.replace(/\D/g, "");
    const byPhone = digits.length > 0 && /^[\d+\-(). ]+$/.test(query);
    let shown = 0;
    const all = rows();
    all.forEach((row) => {
      const match = !query || (byPhone
        ? (row.dataset.phone || "").includes(digits)
        : (row.dataset.name || "").includes(query));
      row.hidden = !match;
      if (match) shown += 1;
    });
    if (empty) empty.hidden = shown > 0 || all.length === 0;
  }

  function announce(message, isError) {
    if (!status) return;
    status.textContent = message || "";
    status.classList.toggle("roster-message--error", Boolean(isError));
  }

  function updateCounts(counts) {
    if (!counts) return;
    root.querySelectorAll("[data-count]").forEach((node) => {
      const value = counts[node.dataset.count];
      if (value !== undefined) node.textContent = String(value);
    });
  }

  if (filter) {
    filter.addEventListener("input", applyFilter);
    applyFilter();
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement)
        || !form.matches("[data-roster-action]")) return;
    event.preventDefault();
    const row = form.closest("[data-roster-row]");
    const button = form.querySelector("button");
    if (coolingDown(row) || (row && row.getAttribute("aria-busy") === "true")) return;
    if (row) row.setAttribute("aria-busy", "true");
    if (button) button.disabled = true;
    let data = null;
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if ((response.headers.get("Content-Type") || "").includes("application/json")) {
        data = await response.json();
      }
    } catch (error) {
      data = null;
    }
    if (response && response.ok && data && data.html && row) {
      const template = document.createElement("template");
      template.innerHTML = data.html.trim();
      const fresh = template.content.firstElementChild;
      row.replaceWith(fresh);
      lastAction.set(fresh.id, Date.now());
      updateCounts(data.counts);
      announce(data.message, false);
      applyFilter();
      // After a check-in, focus the check-in time, never the new "Undo" button; after an
      // undo, the "Check in" button again.
      const next = fresh.querySelector("[data-roster-done]") || fresh.querySelector("button");
      if (next) next.focus();
      return;
    }
    if (row) row.removeAttribute("aria-busy");
    if (button) button.disabled = false;
    if (data && data.error) {
      announce(data.error, true);
    } else if (response) {
      form.submit(); // a page, not JSON (expired session, 404...): let the browser show it
    } else {
      announce(root.dataset.error, true); // offline: nothing was sent
    }
  });
})();
