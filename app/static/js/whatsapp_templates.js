// WhatsApp template form (templates/whatsapp/template_form.html): shows only the variable
// selects the text uses, the answer value only for survey-answer buttons, and a live preview
// with the sample values of the chosen language (#wa-samples, rendered server-side).
(function () {
  "use strict";
  var VARIABLE = /\{\{([1-9][0-9]*)\}\}/g;

  function init(form) {
    var body = form.querySelector("#body");
    var language = form.querySelector("#language");
    var holder = document.getElementById("wa-samples");
    var out = document.getElementById("wa-preview");
    var bubble = document.getElementById("wa-preview-bubble");
    var outButtons = document.querySelectorAll("#wa-preview-buttons li");
    var count = form.querySelector("[data-wa-count]");
    var max = form.getAttribute("data-body-max");
    var samples = {};
    try { samples = JSON.parse(holder.getAttribute("data-samples")); } catch (e) { return; }

    function render() {
      var values = samples[language.value] || {};
      if (bubble && samples[language.value]) bubble.lang = language.value;
      var used = {};
      var match;
      VARIABLE.lastIndex = 0;
      while ((match = VARIABLE.exec(body.value)) !== null) used[match[1]] = true;
      form.querySelectorAll("[data-wa-var]").forEach(function (box) {
        box.hidden = !used[box.getAttribute("data-wa-var")] && !box.hasAttribute("data-wa-error");
      });
      out.textContent = body.value.replace(VARIABLE, function (all, n) {
        var select = form.querySelector("#var_" + n);
        var value = select && select.value ? values[select.value] : "";
        return value || all;
      });
      if (count) count.textContent = body.value.length + " / " + max;
      form.querySelectorAll("[data-wa-value]").forEach(function (box) {
        var n = box.getAttribute("data-wa-value");
        var intent = form.querySelector("#button_" + n + "_intent");
        box.hidden = !intent || intent.value !== "survey_answer";
        var title = form.querySelector("#button_" + n + "_title");
        if (outButtons[n - 1]) outButtons[n - 1].textContent = title ? title.value.trim() : "";
      });
    }

    form.addEventListener("input", render);
    form.addEventListener("change", render);
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-wa-form]");
    if (form) init(form);
  });
})();
