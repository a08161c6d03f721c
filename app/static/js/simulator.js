// Phone simulator: refresh the conversation every few seconds (the worker sends replies).
document.addEventListener("DOMContentLoaded", () => {
  const screen = document.getElementById("conversation");
  if (!screen || !screen.dataset.refreshUrl) return;
  const refresh = async () => {
    try {
      const response = await fetch(screen.dataset.refreshUrl, { credentials: "same-origin" });
      if (response.ok) screen.innerHTML = await response.text();
    } catch (error) { /* offline for a moment: try again next tick */ }
  };
  setInterval(refresh, 3000);
});
