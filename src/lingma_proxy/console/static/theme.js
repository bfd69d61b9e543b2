// Applied before the first paint so a dark theme never flashes white.
// data-theme is the user's choice (system, light, dark); data-scheme is what it resolves to,
// and the only thing the stylesheet looks at, so the dark palette is written once.
(function () {
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  function apply(t) {
    var root = document.documentElement;
    root.setAttribute("data-theme", t);
    var dark = t === "dark" || (t === "system" && media !== null && media.matches);
    root.setAttribute("data-scheme", dark ? "dark" : "light");
  }
  window.lingmaApplyTheme = apply;
  var t = "system";
  try { t = localStorage.getItem("lingma-proxy-theme") || "system"; } catch (e) { /* storage off */ }
  apply(t);
  if (media !== null && media.addEventListener) {
    media.addEventListener("change", function () {
      apply(document.documentElement.getAttribute("data-theme") || "system");
    });
  }
})();
