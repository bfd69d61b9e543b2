// The console shell: hash router, theme switch, top-bar actions. Each page module exports
// render(view, params) and may return a cleanup function (timers stop when you leave a page).
import { api, copy, toast } from "./core.js";
import * as dashboard from "./dashboard.js";
import * as requests from "./requests.js";
import * as models from "./models.js";
import * as settings from "./settings.js";
import * as logs from "./logs.js";

const PAGES = { dashboard, requests, models, settings, logs };
const THEMES = ["system", "light", "dark"];
const THEME_ICONS = { system: "◐", light: "☀", dark: "☾" };
let cleanup = null;
let endpoint = location.origin;

function setTheme(t) {
  window.lingmaApplyTheme(t);
  try { localStorage.setItem("lingma-proxy-theme", t); } catch (e) { /* storage off */ }
  const b = document.getElementById("theme");
  b.textContent = THEME_ICONS[t];
  b.title = `Theme: ${t} (click to change)`;
  b.dataset.theme = t;
}

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "dashboard").split("/");
  const name = PAGES[parts[0]] ? parts[0] : "dashboard";
  for (const a of document.querySelectorAll(".tabs a")) a.classList.toggle("active", a.dataset.page === name);
  if (cleanup) { try { cleanup(); } catch (e) { /* a page failed to clean up */ } }
  cleanup = null;
  const view = document.getElementById("view");
  view.replaceChildren();
  view.scrollTop = 0;
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · lingma-proxy`;
  const result = PAGES[name].render(view, parts.slice(1).map(decodeURIComponent));
  if (typeof result === "function") cleanup = result;
}

async function health() {
  try {
    const o = await api("overview");
    endpoint = o.endpoint || endpoint;
    const dot = document.getElementById("health-dot");
    const ok = o.backends.length > 0 && o.backends.every((b) => b.ok);
    dot.className = "dot " + (ok ? "ok" : "err");
    dot.title = ok ? "all backends answer" : (o.unavailable_reason || "a backend is not answering");
  } catch (e) {
    document.getElementById("health-dot").className = "dot err";
  }
}

function init() {
  const current = document.documentElement.getAttribute("data-theme");
  setTheme(THEMES.includes(current) ? current : "system");
  document.getElementById("theme").addEventListener("click", () => {
    const t = document.documentElement.getAttribute("data-theme");
    const next = THEMES[(THEMES.indexOf(t) + 1) % THEMES.length];
    setTheme(next);
    toast(`Theme: ${next}`);
  });
  document.getElementById("copy-endpoint").addEventListener("click", () => copy(endpoint, `Copied ${endpoint}`));
  window.addEventListener("hashchange", route);
  route();
  health();
  setInterval(() => { if (!document.hidden) health(); }, 15000);
}

init();
