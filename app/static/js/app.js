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

// Phones: the header's menu folds behind a button (aria-expanded, aria-controls). Without
// JavaScript the button stays hidden and the whole menu shows, as on a desktop. The script
// is deferred, so the document is parsed when this runs (before the first paint of most
// pages): the header does not jump.
(() => {
  const header = document.querySelector("[data-topbar]");
  const button = header && header.querySelector(".topbar__toggle");
  if (!button) return;
  const setOpen = (open) => {
    button.setAttribute("aria-expanded", String(open));
    header.classList.toggle("topbar--open", open);
  };
  header.classList.add("topbar--collapsible");
  button.hidden = false;
  setOpen(false);
  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !header.classList.contains("topbar--open")) return;
    if (getComputedStyle(button).display === "none") return; // desktop: nothing is folded
    setOpen(false);
    button.focus();
  });
})();

// Switching the language reloads the page (?lang=): what was typed in its forms would be
// lost. On a click on a language link, the forms' changed fields are kept in sessionStorage
// (this tab only), keyed by the page's path, and put back once the page has reloaded in the
// other language; then they are forgotten. Passwords, files, hidden fields (the CSRF token)
// and fields marked data-no-restore are never stored.
// No "beforeunload" warning: browsers show it with their own wording, in their own
// language, on every navigation (saving a form included unless each submit is tracked),
// and the one case that used to lose typing by surprise, the language switch, is handled
// here.
(() => {
  const KEY = "alcance:form:";
  const MAX_AGE_MS = 10 * 60 * 1000;
  const SKIP = new Set(["password", "file", "hidden", "submit", "button", "reset", "image"]);
  const forms = () => Array.from(document.querySelectorAll("main form"));
  const keep = (el) => el.name && !SKIP.has(el.type) && !el.disabled && el.name !== "csrf_token"
    && !el.closest("[data-no-restore]");
  const changed = (el) => {
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") return Array.from(el.options).some((o) => o.selected !== o.defaultSelected);
    return el.value !== el.defaultValue;
  };
  const snapshot = () => {
    let dirty = false;
    const saved = forms().map((form) => {
      const fields = {};
      Array.from(form.elements).filter(keep).forEach((el) => {
        if (changed(el)) dirty = true;
        const values = fields[el.name] || (fields[el.name] = []);
        if (el.type === "checkbox" || el.type === "radio") {
          if (el.checked) values.push(el.value);
        } else if (el.tagName === "SELECT") {
          Array.from(el.selectedOptions).forEach((o) => values.push(o.value));
        } else {
          values.push(el.value);
        }
      });
      return fields;
    });
    return dirty ? saved : null;
  };
  const restore = (saved) => {
    forms().forEach((form, i) => {
      const fields = saved[i];
      if (!fields) return;
      const seen = {};
      Array.from(form.elements).filter(keep).forEach((el) => {
        const values = fields[el.name];
        if (!values) return;
        if (el.type === "checkbox" || el.type === "radio") {
          el.checked = values.includes(el.value);
        } else if (el.tagName === "SELECT") {
          Array.from(el.options).forEach((o) => { o.selected = values.includes(o.value); });
        } else {
          const n = seen[el.name] || 0; // several fields with one name: in order
          seen[el.name] = n + 1;
          if (n < values.length) el.value = values[n];
        }
        el.dispatchEvent(new Event("input", { bubbles: true }));
        el.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  };
  const key = () => KEY + window.location.pathname;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-lang-switch]");
    if (!link) return;
    const saved = snapshot();
    try {
      if (saved) window.sessionStorage.setItem(key(), JSON.stringify({ at: Date.now(), forms: saved }));
      else window.sessionStorage.removeItem(key());
    } catch (error) { /* storage full or disabled: switch without keeping */ }
  });
  const load = () => {
    let stored = null;
    try {
      stored = JSON.parse(window.sessionStorage.getItem(key()) || "null");
      window.sessionStorage.removeItem(key());
    } catch (error) { return; }
    if (stored && Date.now() - stored.at < MAX_AGE_MS && Array.isArray(stored.forms)) restore(stored.forms);
  };
  // After every DOMContentLoaded handler (character counters, previews...), so that the
  // input and change events of the restored fields update them.
  const later = () => window.setTimeout(load, 0);
  if (document.readyState === "complete") later();
  else document.addEventListener("DOMContentLoaded", later);
})();
