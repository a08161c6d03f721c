// Phone simulator: refresh the conversation every few seconds (the worker sends replies).
document.addEventListener("DOMContentLoaded", () => {
  const screen = document.getElementById("conversation");
  if (!screen || !screen.dataset.refreshUrl) return;
  // Like a phone: show the latest message, and keep following new ones unless the user
  // scrolled up to read older ones.
  const words = (node) => node.textContent.replace(/\s+/g, " ").trim();
  const atBottom = () => screen.scrollHeight - screen.scrollTop - screen.clientHeight < 8;
  screen.scrollTop = screen.scrollHeight;
  const refresh = async () => {
    try {
      const response = await fetch(screen.dataset.refreshUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = document.createElement("div");
      fresh.innerHTML = await response.text();
      // Unchanged: leave the DOM alone, or screen readers would read the log out again.
      if (words(fresh) === words(screen)) return;
      const follow = atBottom();
      screen.replaceChildren(...fresh.childNodes);
      if (follow) screen.scrollTop = screen.scrollHeight;
    } catch (error) { /* offline for a moment: try again next tick */ }
  };
  setInterval(refresh, 3000);
});

// Phone simulator index: filter the list of phones as the user types (name or number;
// accents, case and spaces ignored). The field is hidden until this runs, so without
// JavaScript the full list shows. The status line (role="status") says how many match,
// or that none does.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-sim-search]");
  if (!box) return;
  const input = box.querySelector("input[type=search]");
  const status = box.querySelector("[data-sim-status]");
  const items = Array.from(document.querySelectorAll("[data-sim-item]"));
  const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  const keys = items.map((item) => {
    const text = fold(item.textContent);
    return { item, text, digits: text.replace(/\D/g, "") };
  });
  const say = (template, values) =>
    template.replace(/%\((\w+)\)s/g, (_match, name) => (name in values ? values[name] : ""));
  let timer = null;
  const apply = () => {
    const query = fold(input.value.trim());
    const digits = query.replace(/[\s()+.-]/g, "");
    const byDigits = digits !== "" && /^\d+$/.test(digits);
    let shown = 0;
    keys.forEach(({ item, text, digits: phone }) => {
      const match = !query || text.includes(query) || (byDigits && phone.includes(digits));
      item.hidden = !match;
      if (match) shown += 1;
    });
    window.clearTimeout(timer);
    // Announced once typing pauses, not on every key.
    timer = window.setTimeout(() => {
      if (!query) status.textContent = "";
      else if (shown === 0) status.textContent = say(status.dataset.none, { query: input.value.trim() });
      else if (shown === 1) status.textContent = status.dataset.countOne;
      else status.textContent = say(status.dataset.countMany, { num: String(shown) });
    }, 300);
  };
  box.hidden = false;
  input.addEventListener("input", apply);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && input.value) {
      input.value = "";
      apply();
    } else if (event.key === "Enter") {
      // Enter opens the phone when only one is left.
      const left = keys.filter(({ item }) => !item.hidden);
      if (left.length === 1) left[0].item.querySelector("a").click();
      event.preventDefault();
    }
  });
  if (input.value) apply(); // a value the browser kept on "back"
});
