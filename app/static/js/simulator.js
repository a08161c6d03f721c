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
