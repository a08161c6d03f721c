// SMS length counter for message editors (progressive enhancement, no dependencies, no
// inline code). Markup:
//   <textarea name="body_es" data-sms-counter="body-es-count"></textarea>
//   <output id="body-es-count" data-label-chars="{n} characters" data-label-segments="{n} SMS"
//           data-label-encoding-gsm="GSM-7" data-label-encoding-ucs2="UCS-2"
//           data-label-warning="Characters outside GSM-7: {chars}. {n} SMS instead of {m}."
//           data-label-warning-unicode="..."></output>
// The labels are rendered server-side (app.outbox.encoding.counter_label_attrs), so they are
// translated; the optional data-label-chars-one is used when the count is 1.
// The algorithm and the tables mirror app/outbox/encoding.py; a test keeps the tables equal.
// The editor's phone preview ([data-sms-phone], see initPhones) shows and counts the exact
// text a recipient gets.
(function () {
  "use strict";

  // GSM 03.38 basic table in table order, without 0x1B (ESC).
  var GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå" +
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
    " !\"#¤%&'()*+,-./" +
    "0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNO" +
    "PQRSTUVWXYZÄÖÑÜ§" +
    "¿abcdefghijklmno" +
    "pqrstuvwxyzäöñüà"
  );
  var GSM_EXTENSION = "\f^{}\\[~]|€";
  var GSM_LOOKALIKES = {
    "á": "a", "í": "i", "ó": "o", "ú": "u", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U", "ç": "c",
    "À": "A", "È": "E", "Ì": "I", "Ò": "O", "Ù": "U", "â": "a", "ê": "e", "î": "i", "ô": "o",
    "û": "u", "Â": "A", "Ê": "E", "Î": "I", "Ô": "O", "Û": "U", "ã": "a", "õ": "o", "Ã": "A",
    "Õ": "O", "ë": "e", "ï": "i", "Ë": "E", "Ï": "I", "ª": "a", "º": "o", "‘": "'", "’": "'",
    "‚": "'", "‛": "'", "′": "'", "´": "'", "`": "'", "“": "\"", "”": "\"", "„": "\"", "‟": "\"",
    "″": "\"", "«": "\"", "»": "\"", "‹": "<", "›": ">", "‐": "-", "‑": "-", "‒": "-", "–": "-",
    "—": "-", "―": "-", "−": "-", "…": "...", "•": "-", "\u00a0": " ", "\u2002": " ",
    "\u2003": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u3000": " ", "\u0009": " ",
    "\u00ad": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": ""
  };

  var GSM_SINGLE = 160, GSM_PART = 153, UCS2_SINGLE = 70, UCS2_PART = 67;

  function isGsm(ch) {
    return GSM_BASIC.indexOf(ch) !== -1 || GSM_EXTENSION.indexOf(ch) !== -1;
  }

  function toGsm(text) {
    var out = "";
    for (var ch of text) {
      out += Object.prototype.hasOwnProperty.call(GSM_LOOKALIKES, ch) ? GSM_LOOKALIKES[ch] : ch;
    }
    return out;
  }

  // An escape pair (GSM) or a surrogate pair (UCS-2) never straddles two parts.
  function segments(costs, single, part) {
    var total = costs.reduce(function (a, b) { return a + b; }, 0);
    if (total === 0) return 0;
    if (total <= single) return 1;
    var count = 1, used = 0;
    costs.forEach(function (cost) {
      if (used + cost > part) { count += 1; used = 0; }
      used += cost;
    });
    return count;
  }

  function count(text) {
    var chars = Array.from(text);
    var nonGsm = chars.filter(function (ch, i) {
      return !isGsm(ch) && chars.indexOf(ch) === i;
    }).sort(function (a, b) { return a.codePointAt(0) - b.codePointAt(0); });
    var costs;
    if (nonGsm.length === 0) {
      costs = chars.map(function (ch) { return GSM_EXTENSION.indexOf(ch) !== -1 ? 2 : 1; });
      return { encoding: "GSM-7", units: costs.reduce(function (a, b) { return a + b; }, 0),
               segments: segments(costs, GSM_SINGLE, GSM_PART), nonGsm: [] };
    }
    costs = chars.map(function (ch) { return ch.length; });  // UTF-16 code units
    return { encoding: "UCS-2", units: costs.reduce(function (a, b) { return a + b; }, 0),
             segments: segments(costs, UCS2_SINGLE, UCS2_PART), nonGsm: nonGsm };
  }

  function analyze(text) {
    var info = count(text);
    info.characters = Array.from(text).length;
    if (info.nonGsm.length === 0) {
      info.gsmSegmentsIfStripped = info.segments;
    } else {
      var stripped = count(toGsm(text));
      info.gsmSegmentsIfStripped = stripped.encoding === "GSM-7" ? stripped.segments : null;
    }
    return info;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match;
    });
  }

  function visible(ch) {
    // Invisible or blank characters are shown by code point, so the warning is readable.
    if (/^[\s\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200d\u2060\ufeff]$/.test(ch)) {
      return "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    }
    return ch;
  }

  function label(output, name, fallback) {
    var value = output.getAttribute("data-label-" + name);
    return value === null ? fallback : value;
  }

  function render(textarea, output) {
    renderCount(textarea.value, output);
  }

  function renderCount(value, output) {
    var info = analyze(value);
    var charsLabel = info.characters === 1 ? label(output, "chars-one", null) : null;
    if (charsLabel === null) charsLabel = label(output, "chars", "{n} characters");
    var summary = [
      fill(charsLabel, { n: info.characters }),
      fill(label(output, "segments", "{n} SMS"), { n: info.segments }),
      info.encoding === "GSM-7" ? label(output, "encoding-gsm", "GSM-7")
                                : label(output, "encoding-ucs2", "UCS-2")
    ].join(" \u00b7 ");
    output.textContent = summary;
    output.setAttribute("data-sms-encoding", info.encoding === "GSM-7" ? "gsm7" : "ucs2");
    if (info.encoding !== "GSM-7") {
      var values = { chars: info.nonGsm.map(visible).join(" "), n: info.segments,
                     m: info.gsmSegmentsIfStripped };
      var text = info.gsmSegmentsIfStripped === null
        ? label(output, "warning-unicode", "Not in GSM-7: {chars} ({n} SMS)")
        : label(output, "warning", "Not in GSM-7: {chars}. {n} SMS instead of {m}.");
      var warning = document.createElement("span");
      warning.className = "sms-counter-warning";
      warning.textContent = fill(text, values);
      output.appendChild(document.createElement("br"));
      output.appendChild(warning);
    }
  }

  // --- The phone preview: the exact text a recipient gets ---------------------------------
  // Mirrors app/outbox/placeholders.py `render` (a missing first name or code is dropped
  // with its comma) and the composition of fan-out and the worker: the text, the line an
  // invitation adds (RSVP), then the opt-out instruction when it goes with this message.
  // Data: the JSON in #sms-preview-data's data-preview attribute (rendered server-side, so
  // the values, fallbacks and the opt-out line are the catalog's, never written here).
  var TOKEN = /([ \t]*)\{([^{}\n]*)\}/g;
  var GAP = "\ue000";
  var DANGLING_COMMA = new RegExp(",(" + GAP + "+)(?=[,.;:!?]|[ \\t]*(?:\\n|$))", "g");
  var LINE_START = new RegExp(
    "(^|\\n)" + GAP + "+[ \\t]*[,;:]?[ \\t]*([^\\p{L}\\p{N}\\p{M}_]*?)([\\p{L}\\p{N}\\p{M}_])", "gu"
  );

  function has(object, key) {
    return object !== null && object !== undefined && Object.prototype.hasOwnProperty.call(object, key);
  }

  function renderPlaceholders(template, values, fallbacks) {
    var dropped = false;
    var text = template.replace(TOKEN, function (match, space, name) {
      if (!has(fallbacks, name)) return match;  // unknown placeholder: left as written
      var value = has(values, name) && values[name] !== null ? String(values[name]).trim() : "";
      if (!value) value = fallbacks[name] || "";
      if (!value) { dropped = true; return GAP; }
      return space + value;
    });
    if (dropped) {
      text = text.replace(DANGLING_COMMA, "$1");
      text = text.replace(LINE_START, function (m, start, lead, first) {
        return start + lead + first.toUpperCase();
      });
      text = text.split(GAP).join("");
    }
    return text;
  }

  // Links become each recipient's short link at send time (app/links/text.py gives the
  // patterns and a short link of the real length): {link:…} always, plain addresses when
  // the message tracks them.
  function shortenLinks(template, data, trackUrls) {
    if (!data.shortLink) return template;
    var text = template.replace(new RegExp(data.linkToken, "gi"), data.shortLink);
    if (trackUrls) {
      text = text.replace(new RegExp(data.linkUrl, "gi"), function (url) {
        return url.indexOf(data.shortLinkPrefix) === 0 ? url : data.shortLink;
      });
    }
    return text;
  }

  function compose(body, language, data, event, first, trackUrls) {
    var lang = data.languages[language];
    var template = shortenLinks(body.replace(/\r\n?/g, "\n").trim(), data, trackUrls);
    if (!template) return "";
    var values = Object.assign({}, lang.values, event && event.values ? event.values[language] : {});
    var footer = event && event.footers ? event.footers[language] : "";
    if (footer) template += "\n" + footer;
    var text = renderPlaceholders(template, values, lang.fallbacks);
    if (data.noticeAlways || first) text += "\n" + lang.notice;
    return text;
  }

  function initPhones() {
    var holder = document.getElementById("sms-preview-data");
    var phones = document.querySelectorAll("[data-sms-phone]");
    if (!holder || phones.length === 0) return;
    var data;
    try { data = JSON.parse(holder.getAttribute("data-preview")); } catch (e) { return; }
    if (!data || !data.languages) return;
    var select = document.querySelector("[data-sms-event]");
    var checkbox = document.querySelector("[data-sms-first]");
    var tracking = document.querySelector("[data-sms-track-links]");
    var events = {};
    (data.events || []).forEach(function (event) { events[event.key] = event; });

    Array.prototype.forEach.call(phones, function (phone) {
      var language = phone.getAttribute("data-sms-phone");
      var textarea = document.getElementById(phone.getAttribute("data-sms-source"));
      var bubble = phone.querySelector("[data-sms-phone-text]");
      var output = phone.querySelector("[data-sms-phone-count]");
      if (!textarea || !bubble || !output || !has(data.languages, language)) return;
      var update = function () {
        var key = select ? select.value : data.selected;
        var first = checkbox ? checkbox.checked : data.first;
        var trackUrls = tracking ? tracking.checked : false;
        var text = compose(textarea.value, language, data, events[key] || null, first, trackUrls);
        bubble.textContent = text;
        bubble.hidden = !text;
        renderCount(text, output);
      };
      textarea.addEventListener("input", update);
      if (select) select.addEventListener("change", update);
      if (checkbox) checkbox.addEventListener("change", update);
      if (tracking) tracking.addEventListener("change", update);
      phone.hidden = false;
      update();
    });
  }

  function init() {
    initPhones();
    var textareas = document.querySelectorAll("textarea[data-sms-counter]");
    Array.prototype.forEach.call(textareas, function (textarea) {
      var output = document.getElementById(textarea.getAttribute("data-sms-counter"));
      if (!output) return;
      if (!output.hasAttribute("aria-live")) output.setAttribute("aria-live", "polite");
      var update = function () { render(textarea, output); };
      textarea.addEventListener("input", update);
      update();
    });
  }

  window.AlcanceSms = { analyze: analyze, toGsm: toGsm, render: renderPlaceholders,
                        compose: compose };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
