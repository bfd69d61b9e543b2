// Models: what each backend offers. Click an id to copy it; probe sends one tiny request.
import { api, h, ms, num, errorBox, copy } from "./core.js";

export function render(view) {
  const search = h("input", { type: "search", placeholder: "Filter models…", "aria-label": "filter models", style: "min-width:180px" });
  const refresh = h("button", { class: "btn", type: "button" }, "↻ Refresh");
  const holder = h("div", { class: "stack" }, h("div", { class: "skeleton" }, "Asking the backends…"));
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Models"), search, refresh), holder);
  let data = null;

  async function load() {
    refresh.disabled = true;
    try {
      data = await api("models");
      draw();
    } catch (e) {
      holder.replaceChildren(errorBox(e));
    } finally {
      refresh.disabled = false;
    }
  }

  function draw() {
    const q = search.value.trim().toLowerCase();
    const cards = data.backends.map((b) => {
      const models = b.models.filter((m) => !q || m.id.toLowerCase().includes(q) || (m.display_name || "").toLowerCase().includes(q));
      const caps = Object.entries(b.capabilities).filter(([, v]) => v === true).map(([k]) => h("span", { class: "chip" }, k.replace(/_/g, " ")));
      const st = b.state || {};
      return h("div", { class: "card" },
        h("div", { class: "card-head" },
          h("span", { class: "dot " + (st.ok ? "ok" : "err") }),
          h("h2", {}, b.name, h("span", { class: "faint", style: "font-weight:400" }, ` · ${b.kind}`)),
          b.default ? h("span", { class: "chip accent" }, "default") : null),
        h("div", { class: "row", style: "margin-bottom:8px" }, caps, st.detail ? h("span", { class: "muted" }, st.detail) : null),
        b.error ? h("div", { class: "error-box" }, b.error) : null,
        models.length ? h("div", { class: "models" }, models.map(modelRow))
          : h("div", { class: "empty" }, q ? "No model matches." : "This backend lists no models."));
    });
    const routes = data.routes.length ? h("div", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Routes")),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Client model"), h("th", {}, "Backend"), h("th", {}, "Upstream model"))),
        h("tbody", {}, data.routes.map((r) => h("tr", {}, h("td", { class: "mono" }, r.pattern), h("td", {}, r.backend),
          h("td", { class: "mono" }, r.model || "(same)"))))))) : null;
    holder.replaceChildren(...(cards.length ? cards : [h("div", { class: "card empty" }, "No backend is configured.")]), routes || "");
  }

  function modelRow(m) {
    const result = h("span", { class: "probe-result" });
    const probe = h("button", { class: "btn small", type: "button" }, "Probe");
    probe.addEventListener("click", async () => {
      probe.disabled = true;
      result.className = "probe-result muted";
      result.textContent = "probing…";
      try {
        const r = await api("probe", { json: { model: m.id } });
        result.className = "probe-result " + (r.ok ? "" : "");
        result.replaceChildren(r.ok
          ? h("span", { class: "chip ok" }, `✓ ${ms(r.latency_ms)}`)
          : h("span", { class: "chip err" }, `✗ ${r.status}`),
          " ", h("span", { class: "muted" }, r.ok ? `“${(r.text || "").trim().slice(0, 80)}”` : r.error));
      } catch (e) {
        result.replaceChildren(h("span", { class: "chip err" }, "✗"), " ", e.message);
      } finally {
        probe.disabled = false;
      }
    });
    return h("div", { class: "model-row" },
      h("span", { class: "model-id", title: "Click to copy", role: "button", tabindex: "0",
        onclick: () => copy(m.id, `Copied ${m.id}`),
        onkeydown: (e) => { if (e.key === "Enter") copy(m.id, `Copied ${m.id}`); } }, m.id),
      m.display_name && m.display_name !== m.id ? h("span", { class: "muted" }, m.display_name) : null,
      m.context_window ? h("span", { class: "chip" }, `${num(m.context_window)} ctx`) : null,
      (m.capabilities || []).map((c) => h("span", { class: "chip" }, c)),
      m.upstream_id && m.upstream_id !== m.id ? h("span", { class: "faint mono" }, `→ ${m.upstream_id}`) : null,
      h("span", { class: "spacer" }), result, probe);
  }

  search.addEventListener("input", () => { if (data) draw(); });
  refresh.addEventListener("click", load);
  load();
}
