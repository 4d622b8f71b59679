// Slipway web UI: the endpoint page redraws its traffic charts as the server samples new intervals.
"use strict";
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("traffic");
    if (!box || !window.Slipway) { return; }
    var ms = Math.max(1000, parseFloat(box.getAttribute("data-interval") || "5") * 1000);
    window.Slipway.poll(box.getAttribute("data-traffic-url"), ms, function (data) {
      Object.keys(data.charts).forEach(function (key) {
        var slot = box.querySelector("[data-chart=" + key + "]");
        // The server escapes every text it draws into these SVGs (slipway/_charts.py).
        if (slot) { slot.innerHTML = data.charts[key]; }
      });
      return true;
    });
  });
})();
