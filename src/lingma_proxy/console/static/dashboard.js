// Dashboard: backend health, traffic per minute, latency and TTFB percentiles, tokens, recent requests.
import { api, h, s, ms, num, when, duration, statusChip, errorBox, copy, DIALECTS } from "./core.js";

const REFRESH = 3000;

export function render(view) {
  const root = h("div", { class: "stack", id: "dashboard" });
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Dashboard"),
    h("span", { class: "faint", id: "dash-updated" }, "")), root);
  let timer = 0;
  let alive = true;
  const tick = async () => {
    if (!alive) return;
    if (!document.hidden) {
      try {
        draw(root, await api("overview"));
        const u = document.getElementById("dash-updated");
        if (u) u.textContent = "live · refreshes every 3 s";
      } catch (e) {
        root.replaceChildren(errorBox(e));
      }
    }
    timer = setTimeout(tick, REFRESH);
  };
  tick();
  return () => { alive = false; clearTimeout(timer); };
}

function draw(root, o) {
  const t = o.today || {};
  const reqs = t.requests || 0;
  const errs = t.errors || 0;
  const success = reqs ? `${(((reqs - errs) / reqs) * 100).toFixed(1)}% success` : "no requests yet";
  const lat = o.latency_ms || {};
  const ttfb = o.ttfb_ms || {};
  root.replaceChildren(
    recordingWarning(o.recording),
    statusStrip(o),
    h("div", { class: "grid kpis" },
      kpi("Requests today", num(reqs), success),
      kpi("Errors today", num(errs), errs ? "see Requests › errors" : "all good"),
      kpi("Tokens in · out", `${num(t.input_tokens || 0)} · ${num(t.output_tokens || 0)}`,
        t.cache_read_tokens ? `${num(t.cache_read_tokens)} read from cache` : "today"),
      kpi("Latency p50 · p95", lat.p50 !== undefined ? `${ms(lat.p50)} · ${ms(lat.p95)}` : "–",
        `last ${o.sample} requests`),
      kpi("First byte p50 · p95", ttfb.p50 !== undefined ? `${ms(ttfb.p50)} · ${ms(ttfb.p95)}` : "–", "streams"),
    ),
    h("div", { class: "grid two" },
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Requests per minute"), h("span", { class: "faint" }, "last hour")),
        perMinute(o.per_minute),
        h("div", { class: "legend" }, h("span", {}, h("span", { class: "swatch" }), "requests"), h("span", {}, h("span", { class: "swatch err" }), "errors"))),
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Latency"), h("span", { class: "faint" }, "recent requests, click a bar")),
        latencyBars(o.recent_latency),
        percentileRow(lat, ttfb)),
    ),
    h("div", { class: "grid two" },
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Recent requests"), h("a", { href: "#/requests" }, "All requests →")),
        recentTable(o.recent)),
      h("div", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Token usage by model"), h("span", { class: "faint" }, "last 7 days")),
        usageTable(o.usage_by_model, o.all_time)),
    ),
  );
}

function kpi(label, value, sub) {
  return h("div", { class: "card kpi" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value),
    h("div", { class: "sub" }, sub));
}

// Records the recorder could not keep (its queue overflowed, or the disk refused a write) are
// lost for good: say so where nobody can miss it, not only as a number in the Proxy card.
function recordingWarning(rec) {
  if (!rec || !rec.enabled || !(rec.dropped || rec.failures)) return h("div", { id: "recording-warning", hidden: true });
  const parts = [];
  if (rec.dropped) parts.push(`${num(rec.dropped)} requests were not recorded: the recorder's queue was full (${num(rec.capacity || 0)} records)`);
  if (rec.failures) parts.push(`${num(rec.failures)} write failures${rec.last_error ? `, last: ${rec.last_error}` : ""}`);
  return h("div", { class: "warn-box", role: "alert", id: "recording-warning" },
    h("b", {}, "Recording is losing requests. "), parts.join("; "), ". See docs/console.md, “Recording guarantees”.");
}

function statusStrip(o) {
  const rec = o.recording || {};
  const backends = o.backends.length ? o.backends.map((b) => h("div", { class: "backend" },
    h("span", { class: "dot " + (b.ok ? "ok" : "err"), style: "margin-top:6px" }),
    h("div", { style: "min-width:0" },
      h("div", { class: "row" }, h("span", { class: "name" }, b.name), h("span", { class: "chip" }, b.kind),
        b.name === o.default_backend ? h("span", { class: "chip accent" }, "default") : null),
      h("div", { class: "muted", style: "word-break:break-word" }, b.detail || (b.ok ? "ready" : "not answering")),
      b.endpoint ? h("div", { class: "faint mono" }, b.endpoint) : null)))
    : [h("div", { class: "error-box" }, o.unavailable_reason || "No backend is configured.")];
  return h("div", { class: "grid two" },
    h("div", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Backends")), backends),
    h("div", { class: "card" },
      h("div", { class: "card-head" }, h("h2", {}, "Proxy")),
      h("div", { class: "detail-meta" },
        meta("Endpoint", h("a", { href: "#", onclick: (e) => { e.preventDefault(); copy(o.endpoint, `Copied ${o.endpoint}`); } }, o.endpoint)),
        meta("Version", o.version),
        meta("Uptime", duration(o.uptime_s)),
        meta("Recording", rec.enabled ? `on · ${num(rec.written || 0)} written` : (rec.error || "off")),
        rec.enabled && rec.dropped ? meta("Dropped records", String(rec.dropped)) : null,
        meta("All time", o.all_time && o.all_time.requests !== undefined
          ? `${num(o.all_time.requests)} requests · ${num((o.all_time.input_tokens || 0) + (o.all_time.output_tokens || 0))} tokens` : "–"))));
}

function meta(label, value) {
  return h("div", {}, h("span", {}, label), h("b", {}, value));
}

function perMinute(points) {
  const W = 600, H = 120, pad = 18;
  const max = Math.max(1, ...points.map((p) => p.requests));
  const bw = (W - 8) / points.length;
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
    "aria-label": "requests per minute" });
  svg.append(s("line", { class: "grid", x1: 0, x2: W, y1: pad, y2: pad }));
  svg.append(s("text", { x: 2, y: pad - 4 }, String(max)));
  points.forEach((p, i) => {
    const hgt = ((H - pad - 2) * p.requests) / max;
    const ehgt = ((H - pad - 2) * p.errors) / max;
    const x = 4 + i * bw;
    const t = new Date(p.t * 1000);
    const label = `${String(t.getHours()).padStart(2, "0")}:${String(t.getMinutes()).padStart(2, "0")} · ${p.requests} requests${p.errors ? `, ${p.errors} errors` : ""}`;
    if (p.requests) svg.append(s("rect", { class: "bar", x, y: H - hgt, width: Math.max(1, bw - 2), height: hgt, rx: 1.5 }, s("title", {}, label)));
    if (p.errors) svg.append(s("rect", { class: "bar err", x, y: H - ehgt, width: Math.max(1, bw - 2), height: ehgt, rx: 1.5 }, s("title", {}, label)));
  });
  return svg;
}

function latencyBars(items) {
  if (!items || !items.length) return h("div", { class: "empty" }, "No requests yet: point a client at the endpoint.");
  const W = 600, H = 120;
  const max = Math.max(1, ...items.map((p) => p.latency_ms));
  const sorted = items.map((p) => p.latency_ms).sort((a, b) => a - b);
  const p95 = sorted[Math.max(0, Math.ceil(sorted.length * 0.95) - 1)];
  const bw = W / Math.max(items.length, 20);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
    "aria-label": "latency of recent requests" });
  items.forEach((p, i) => {
    const hgt = Math.max(2, ((H - 6) * p.latency_ms) / max);
    const cls = p.status >= 400 ? "bar err" : (p.latency_ms >= p95 && items.length > 5 ? "bar slow" : "bar");
    const x = i * bw;
    const title = `${ms(p.latency_ms)} · ${p.status} · ${p.model || ""} · ${when(p.ts)}`;
    svg.append(s("rect", { class: cls, x: x + 1, y: H - hgt, width: Math.max(1, bw - 3), height: hgt, rx: 2 }));
    svg.append(s("rect", { class: "hit", x, y: 0, width: bw, height: H, onclick: () => { location.hash = `#/requests/${p.id}`; } },
      s("title", {}, title)));
  });
  return svg;
}

function percentileRow(lat, ttfb) {
  const cell = (label, v) => h("div", {}, h("b", {}, ms(v)), h("span", {}, label));
  return h("div", { class: "pct" },
    cell("avg", lat.avg), cell("p50", lat.p50), cell("p95", lat.p95), cell("max", lat.max),
    cell("TTFB p50", ttfb.p50));
}

export function recentTable(rows) {
  if (!rows || !rows.length) return h("div", { class: "empty" }, "Nothing recorded yet.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", { class: "hide-sm" }, "API"), h("th", {}, "Model"),
      h("th", {}, "Status"), h("th", { class: "num" }, "Latency"))),
    h("tbody", {}, rows.map((r) => h("tr", { class: "link", onclick: () => { location.hash = `#/requests/${r.id}`; } },
      h("td", { class: "time" }, when(r.ts)),
      h("td", { class: "hide-sm" }, DIALECTS[r.dialect] || r.dialect),
      h("td", { class: "model", title: r.model }, r.client_model || r.model || "–"),
      h("td", {}, statusChip(r.status, r.error)),
      h("td", { class: "num" }, ms(r.latency_ms)))))));
}

function usageTable(rows, allTime) {
  if (!rows || !rows.length) return h("div", { class: "empty" }, "No token usage recorded yet.");
  const byModel = new Map();
  for (const r of rows) {
    const m = byModel.get(r.model) || { model: r.model, requests: 0, input: 0, output: 0 };
    m.requests += r.requests; m.input += r.input_tokens; m.output += r.output_tokens;
    byModel.set(r.model, m);
  }
  const list = [...byModel.values()].sort((a, b) => (b.input + b.output) - (a.input + a.output));
  const top = Math.max(1, ...list.map((m) => m.input + m.output));
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "Model"), h("th", { class: "num" }, "Requests"), h("th", { class: "num" }, "In"),
      h("th", { class: "num" }, "Out"), h("th", { class: "hide-sm" }, ""))),
    h("tbody", {}, list.map((m) => h("tr", {},
      h("td", { class: "model mono", title: m.model }, m.model),
      h("td", { class: "num" }, num(m.requests)),
      h("td", { class: "num" }, num(m.input)),
      h("td", { class: "num" }, num(m.output)),
      h("td", { class: "hide-sm", style: "width:30%" }, h("div", { class: "meter" },
        h("i", { style: `width:${(((m.input + m.output) / top) * 100).toFixed(1)}%` }))))))));
}
