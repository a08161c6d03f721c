// Live audience count on the audience form (progressive enhancement: without
// JavaScript the "Preview count" button re-renders the page with the same numbers).
// CSP-safe: no inline code, no innerHTML; server-translated text comes in the JSON.
(function () {
  "use strict";
  const form = document.getElementById("audience-form");
  if (!form || !window.fetch) return;
  const output = document.getElementById("audience-preview");
  const sample = document.getElementById("audience-sample");
  const url = form.dataset.previewUrl;
  const skip = new Set(["csrf_token", "name", "description", "preview", "submit"]);
  const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);
  let timer = null;
  let latest = 0;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function render(data) {
    const parts = [];
    if (!data.valid) {
      parts.push(el("p", data.message, "error"));
    } else {
      parts.push(el("p", numbers.format(data.eligible), "stat"));
      parts.push(el("p", data.message));
      if (data.excluded.length) {
        const wrap = el("div", null, "table-wrap");
        const table = el("table");
        table.appendChild(el("caption", output.dataset.captionExcluded));
        const head = el("thead");
        const headRow = el("tr");
        const th1 = el("th", output.dataset.labelReason);
        th1.scope = "col";
        const th2 = el("th", output.dataset.labelCount, "num");
        th2.scope = "col";
        headRow.append(th1, th2);
        head.appendChild(headRow);
        const body = el("tbody");
        data.excluded.forEach(function (item) {
          const row = el("tr");
          const reason = el("th", item.label);
          reason.scope = "row";
          row.append(reason, el("td", numbers.format(item.count), "num"));
          body.appendChild(row);
        });
        table.append(head, body);
        wrap.appendChild(table);
        parts.push(wrap);
      } else {
        parts.push(el("p", output.dataset.noneExcluded, "muted"));
      }
    }
    output.replaceChildren.apply(output, parts);
    if (sample) sample.hidden = true; // the server-rendered sample no longer matches
  }

  function refresh() {
    const params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (!skip.has(key)) params.append(key, value);
    });
    const ticket = ++latest;
    output.setAttribute("aria-busy", "true");
    fetch(url + "?" + params.toString(), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.json(); })
      .then(function (data) { if (ticket === latest) render(data); })
      .catch(function () { /* keep the last figures; the button still works */ })
      .finally(function () { if (ticket === latest) output.removeAttribute("aria-busy"); });
  }

  function schedule(event) {
    if (event.target && skip.has(event.target.name)) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 350);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  // With JavaScript the count needs no button press: show it as soon as the page opens.
  if (output.querySelector("[data-preview-placeholder]")) refresh();
})();
