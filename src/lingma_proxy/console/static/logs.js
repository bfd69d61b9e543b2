// Logs: a live tail of the proxy's log (polled once a second, only the lines after the last seen).
import { api, h, errorBox, copy, copyIcon } from "./core.js";

const MAX_LINES = 3000;

export function render(view) {
  const level = h("select", { "aria-label": "level" },
    ["", "info", "warning", "error"].map((l) => h("option", { value: l }, l ? `${l} and above` : "all levels")));
  const search = h("input", { type: "search", placeholder: "Search…", "aria-label": "search logs" });
  const pause = h("button", { class: "btn", type: "button" }, "Pause");
  const copyAll = h("button", { class: "btn", type: "button" }, copyIcon(), "Copy");
  const clear = h("button", { class: "btn", type: "button" }, "Clear view");
  const box = h("div", { class: "logs", id: "log-lines", role: "log", "aria-live": "off" });
  const info = h("span", { class: "faint" }, "");
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Logs"), info),
    h("div", { class: "row", style: "margin-bottom:12px" }, level, search, h("span", { class: "spacer" }), pause, copyAll, clear),
    h("div", { class: "card", style: "padding:8px" }, box));

  let after = 0;
  let lines = [];
  let paused = false;
  let alive = true;
  let timer = 0;

  function visible(e) {
    const lv = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
    if (level.value && (lv[e.level] || 0) < lv[level.value]) return false;
    const q = search.value.trim().toLowerCase();
    return !q || e.message.toLowerCase().includes(q) || e.logger.toLowerCase().includes(q);
  }

  function line(e) {
    const t = new Date(e.ts * 1000);
    const time = t.toTimeString().slice(0, 8);
    return h("div", { class: "log" }, h("span", { class: "faint" }, time), h("span", { class: `lv ${e.level}` }, e.level),
      h("span", { class: "lg", title: e.logger }, e.logger), h("span", { class: "msg" }, e.message));
  }

  function redraw() {
    const shown = lines.filter(visible);
    box.replaceChildren(...(shown.length ? shown.map(line) : [h("div", { class: "empty" }, "No log lines yet.")]));
    box.scrollTop = box.scrollHeight;
  }

  async function poll() {
    if (!alive) return;
    if (!paused && !document.hidden) {
      try {
        const d = await api(`logs?after=${after}&limit=1000`);
        if (d.logs.length) {
          const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
          after = d.logs[d.logs.length - 1].seq;
          const first = !lines.length;
          lines = lines.concat(d.logs).slice(-MAX_LINES);
          if (first) redraw();
          else {
            if (box.firstChild && box.firstChild.classList.contains("empty")) box.replaceChildren();
            for (const e of d.logs) if (visible(e)) box.append(line(e));
            while (box.childElementCount > MAX_LINES) box.firstChild.remove();
            if (atBottom) box.scrollTop = box.scrollHeight;
          }
        } else if (!lines.length) {
          redraw();
        }
        info.textContent = paused ? "paused" : "live";
      } catch (e) {
        info.replaceChildren(errorBox(e));
      }
    }
    timer = setTimeout(poll, 1000);
  }

  level.addEventListener("change", redraw);
  search.addEventListener("input", redraw);
  pause.addEventListener("click", () => { paused = !paused; pause.textContent = paused ? "Resume" : "Pause"; info.textContent = paused ? "paused" : "live"; });
  clear.addEventListener("click", () => { lines = []; redraw(); });
  copyAll.addEventListener("click", () => copy(lines.filter(visible).map((e) =>
    `[${new Date(e.ts * 1000).toISOString()}] ${e.level.toUpperCase()} ${e.logger}: ${e.message}`).join("\n"), "Log lines copied"));
  poll();
  return () => { alive = false; clearTimeout(timer); };
}
