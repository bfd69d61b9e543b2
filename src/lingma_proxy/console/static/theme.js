// Applied before the first paint so a dark theme never flashes white.
(function () {
  var t = "system";
  try { t = localStorage.getItem("lingma-proxy-theme") || "system"; } catch (e) { /* storage off */ }
  document.documentElement.setAttribute("data-theme", t);
})();
