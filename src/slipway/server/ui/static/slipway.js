// Slipway web UI: a little progressive enhancement. Every page works without it.
"use strict";
(function () {
  // Compare forms: enable the button only for 2..max ticked rows, and show how many are ticked.
  function wireCompare(form) {
    var max = parseInt(form.dataset.compareMax || "10", 10);
    var button = form.querySelector("button[type=submit]");
    var counter = form.querySelector("[data-compare-count]");
    function update() {
      var n = form.querySelectorAll("input[type=checkbox]:checked").length;
      if (button) { button.disabled = n < 2 || n > max; }
      if (counter) { counter.textContent = n + " selected" + (n > max ? " (at most " + max + ")" : ""); }
    }
    form.addEventListener("change", update);
    update();
  }

  // Poll a JSON URL every `ms` milliseconds and hand each answer to `onData` until it returns false.
  // Pages that follow something running (a pipeline execution) use it: Slipway.poll(url, 1500, fn).
  function poll(url, ms, onData) {
    var timer = null;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(url + ": HTTP " + r.status); } return r.json(); })
        .then(function (data) { if (onData(data) !== false) { timer = window.setTimeout(tick, ms); } })
        .catch(function (err) { console.warn("poll stopped:", err.message); });
    }
    tick();
    return function stop() { if (timer !== null) { window.clearTimeout(timer); } };
  }

  window.Slipway = { poll: poll };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-compare-max]").forEach(wireCompare);
  });
})();
