// MLflow's links (what its client prints: "View run ... at: http://host/#/experiments/1/runs/abc")
// keep the route in the URL's fragment, which a browser never sends to a server: the server sees
// "/" and answers the home page. Here, before the page draws, such a link goes to the page of the
// run, experiment, model or model version it names. Loaded without defer, on every page; it acts
// only on the home and login pages (the login page is where "/" sends a browser not yet signed in).
"use strict";
(function () {
  var page = window.location.pathname;
  var hash = window.location.hash;
  if ((page !== "/" && page !== "/login") || hash.indexOf("#/") !== 0) { return; }
  var routes = [
    [/^\/experiments\/([^/?]+)\/runs\/([^/?]+)/, function (m) { return "/runs/" + m[2]; }],
    [/^\/experiments\/([^/?]+)/, function (m) { return "/experiments/" + m[1]; }],
    [/^\/models\/([^/?]+)\/versions\/([^/?]+)/, function (m) { return "/models/" + m[1] + "/versions/" + m[2]; }],
    [/^\/models\/([^/?]+)/, function (m) { return "/models/" + m[1]; }]
  ];
  var route = hash.slice(1);
  for (var i = 0; i < routes.length; i++) {
    var found = routes[i][0].exec(route);
    if (found) {
      // Each part is re-encoded: whatever the fragment holds stays one path segment of this server.
      for (var j = 1; j < found.length; j++) {
        var part = found[j];
        try { part = decodeURIComponent(part); } catch (e) { /* keep it as it came */ }
        found[j] = encodeURIComponent(part);
      }
      window.location.replace(routes[i][1](found));
      return;
    }
  }
})();
