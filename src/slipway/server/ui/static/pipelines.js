// Slipway web UI: the pipeline execution page follows its execution while it runs.
// It polls the page's state URL every second, recolours the DAG's nodes and updates the steps table;
// once the execution has ended it reloads once, so the buttons (resume, retry) match the final state.
"use strict";
(function () {
  function seconds(value) {
    if (value === null || value === undefined) { return ""; }
    if (value < 60) { return value.toFixed(1) + "s"; }
    var m = Math.floor(value / 60), s = Math.floor(value % 60);
    if (m < 60) { return m + "m " + (s < 10 ? "0" : "") + s + "s"; }
    var h = Math.floor(m / 60); m = m % 60;
    return h + "h " + (m < 10 ? "0" : "") + m + "m";
  }

  function setBadge(el, status) {
    el.textContent = status;
    el.className = "badge " + status;
  }

  function apply(state) {
    var status = document.getElementById("execution-status");
    if (status) { setBadge(status, state.status); }
    var reason = document.getElementById("failure-reason");
    if (reason) { reason.textContent = state.failure_reason || ""; }
    state.steps.forEach(function (step) {
      document.querySelectorAll("#dag g.node").forEach(function (g) {
        if (g.getAttribute("data-node") !== step.name) { return; }
        g.setAttribute("data-status", step.status);
        var rect = g.querySelector("rect");
        if (rect && step.colour) { rect.setAttribute("fill", step.colour); }
        var title = g.querySelector("title");
        if (title) { title.textContent = step.name + " · " + step.status; }
        var detail = g.querySelector("text.detail");
        if (detail) { detail.textContent = detail.textContent.split(" · ")[0] + " · " + step.status; }
      });
      document.querySelectorAll("#steps tr[data-step]").forEach(function (row) {
        if (row.getAttribute("data-step") !== step.name) { return; }
        setBadge(row.querySelector("[data-field=status]"), step.status);
        row.querySelector("[data-field=duration]").textContent = seconds(step.seconds);
        row.querySelector("[data-field=cache]").textContent = step.cache;
        row.querySelector("[data-field=attempts]").textContent = step.attempts;
        var signal = row.querySelector("form.signal");
        if (signal && step.status !== "Pending" && step.status !== "Waiting") { signal.remove(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("execution");
    if (!box || box.getAttribute("data-terminal") === "true" || !window.Slipway) { return; }
    window.Slipway.poll(box.getAttribute("data-state-url"), 1000, function (state) {
      apply(state);
      if (state.terminal) { window.location.reload(); return false; }
      return true;
    });
  });
})();
