// Requests: a filterable list (live), and the detail of one request with its sanitized bodies.
import { api, h, ms, num, bytes, when, ago, statusChip, errorBox, codeView, copyButton, copy, toast, pretty, DIALECTS } from "./core.js";

const PAGE = 100;
const filters = { q: "", status: "", model: "", dialect: "", live: true };

export function render(view, params) {
  if (params[0]) return detail(view, params[0]);
  return list(view);
}

// ------------------------------------------------------------------ the list

function list(view) {
  const body = h("div", { class: "card", id: "requests-card" }, h("div", { class: "skeleton" }, "Loading…"));
  const search = h("input", { type: "search", placeholder: "Search path, model, id, error…", value: filters.q,
    "aria-label": "search", style: "flex:1;min-width:160px" });
  const statusSeg = seg(["", "All"], ["2xx", "2xx"], ["4xx", "4xx"], ["5xx", "5xx"]);
  const dialect = h("select", { "aria-label": "API" },
    h("option", { value: "" }, "All APIs"),
    Object.entries(DIALECTS).map(([k, v]) => h("option", { value: k }, v)));
  dialect.value = filters.dialect;
  const model = h("select", { "aria-label": "model" }, h("option", { value: "" }, "All models"));
  const live = h("input", { type: "checkbox", id: "live" });
  live.checked = filters.live;
  const clear = h("button", { class: "btn danger", type: "button", onclick: clearAll }, "Clear");
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Requests"),
      h("label", { class: "row muted", for: "live" }, live, "Live"), clear),
    h("div", { class: "row", style: "margin-bottom:12px" }, search, statusSeg.el, dialect, model),
    body);

  let rows = [];
  let timer = 0;
  let alive = true;
  let more = true;
  const models = new Set();

  async function load(append = false) {
    const p = new URLSearchParams({ limit: PAGE });
    for (const k of ["q", "status", "model", "dialect"]) if (filters[k]) p.set(k, filters[k]);
    if (append && rows.length) p.set("before", rows[rows.length - 1].ts);
    try {
      const data = await api("requests?" + p);
      rows = append ? rows.concat(data.requests) : data.requests;
      more = data.requests.length === PAGE;
      for (const r of rows) { if (r.model) models.add(r.model); if (r.client_model) models.add(r.client_model); }
      fillModels();
      draw(data.recording);
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }

  function fillModels() {
    const have = new Set([...model.options].map((o) => o.value));
    for (const m of [...models].sort()) if (!have.has(m)) model.append(h("option", { value: m }, m));
    model.value = filters.model;
  }

  function draw(recording) {
    if (!rows.length) {
      const hint = recording && !recording.enabled
        ? "Recording is off: only the last requests of this run are listed, without bodies."
        : "No requests match. Requests made through the proxy appear here as they finish.";
      body.replaceChildren(h("div", { class: "empty" }, hint));
      return;
    }
    const table = h("table", {},
      h("thead", {}, h("tr", {},
        h("th", {}, "Time"), h("th", { class: "hide-sm" }, "API"), h("th", {}, "Model"),
        h("th", {}, "Status"), h("th", { class: "num" }, "Latency"), h("th", { class: "num hide-sm" }, "TTFB"),
        h("th", { class: "num hide-sm" }, "Tokens in/out"))),
      h("tbody", {}, rows.map((r) => h("tr", { class: "link", "data-id": r.id, onclick: () => { location.hash = `#/requests/${r.id}`; } },
        h("td", { class: "time", title: new Date(r.ts * 1000).toLocaleString() }, when(r.ts)),
        h("td", { class: "hide-sm" }, DIALECTS[r.dialect] || r.dialect, r.stream ? h("span", { class: "faint" }, " · stream") : null),
        h("td", { class: "model", title: `${r.client_model} → ${r.backend}/${r.model}` },
          r.client_model || r.model || "–",
          r.model && r.model !== r.client_model ? h("span", { class: "faint" }, ` → ${r.model}`) : null),
        h("td", {}, statusChip(r.status, r.error)),
        h("td", { class: "num" }, ms(r.latency_ms)),
        h("td", { class: "num hide-sm" }, r.stream ? ms(r.ttfb_ms) : "–"),
        h("td", { class: "num hide-sm" }, `${num(r.input_tokens)} / ${num(r.output_tokens)}`)))));
    const older = h("div", { class: "row", style: "justify-content:center;margin-top:12px" },
      h("button", { class: "btn", type: "button", onclick: () => load(true) }, "Load older"));
    body.replaceChildren(...[h("div", { class: "table-wrap" }, table), more ? older : null].filter(Boolean));
  }

  async function clearAll() {
    if (!confirm("Delete every recorded request? Daily token usage is kept.")) return;
    try {
      const r = await api("requests/clear", { json: {} });
      toast(`Deleted ${r.deleted} requests`);
      load();
    } catch (e) { toast(e.message); }
  }

  let debounce = 0;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { filters.q = search.value.trim(); load(); }, 200);
  });
  statusSeg.onchange = (v) => { filters.status = v; load(); };
  statusSeg.set(filters.status);
  dialect.addEventListener("change", () => { filters.dialect = dialect.value; load(); });
  model.addEventListener("change", () => { filters.model = model.value; load(); });
  live.addEventListener("change", () => { filters.live = live.checked; });

  const tick = async () => {
    if (!alive) return;
    // live refresh only on the first page, so "load older" is not undone under the reader
    if (filters.live && !document.hidden && rows.length <= PAGE) await load();
    timer = setTimeout(tick, 2500);
  };
  load().then(() => { timer = setTimeout(tick, 2500); });
  return () => { alive = false; clearTimeout(timer); clearTimeout(debounce); };
}

function seg(...options) {
  const out = { onchange: null };
  const buttons = options.map(([value, label]) => h("button", { type: "button", "data-value": value,
    onclick: () => { out.set(value); if (out.onchange) out.onchange(value); } }, label));
  out.el = h("div", { class: "seg", role: "group" }, buttons);
  out.set = (v) => buttons.forEach((b) => b.classList.toggle("on", b.dataset.value === v));
  return out;
}

// ------------------------------------------------------------------ one request

function detail(view, id) {
  view.append(h("div", { class: "page-head" },
    h("a", { class: "btn", href: "#/requests" }, "← Requests"),
    h("h1", { class: "mono", style: "font-size:15px" }, id)));
  const holder = h("div", { class: "stack" }, h("div", { class: "skeleton" }, "Loading…"));
  view.append(holder);
  api("requests/" + encodeURIComponent(id)).then((r) => drawDetail(holder, r), (e) => holder.replaceChildren(errorBox(e)));
}

function drawDetail(holder, r) {
  const tabs = [];
  if (r.message) tabs.push(["message", "Message", () => messageView(r.message), r.message]);
  tabs.push(["request", "Request", () => codeView(r.request), r.request]);
  if (r.response) tabs.push(["response", "Response", () => codeView(r.response), r.response]);
  if (r.events) tabs.push(["events", `Events${countEvents(r.events)}`, () => eventsView(r.events), r.events]);
  const bar = h("div", { class: "tabbar", role: "tablist" });
  const pane = h("div", {});
  const tools = h("div", { class: "row" });
  function show(key) {
    const t = tabs.find((x) => x[0] === key) || tabs[0];
    for (const b of bar.children) b.classList.toggle("on", b.dataset.tab === t[0]);
    pane.replaceChildren(t[2]());
    tools.replaceChildren(copyButton(() => pretty(t[3]), t[1].replace(/ \(.*/, "")));
  }
  for (const [key, label] of tabs) bar.append(h("button", { type: "button", role: "tab", "data-tab": key, onclick: () => show(key) }, label));

  const u = (v) => (v ? num(v) : "0");
  holder.replaceChildren(
    h("div", { class: "card" },
      h("div", { class: "row", style: "margin-bottom:14px" }, statusChip(r.status),
        h("b", {}, `${DIALECTS[r.dialect] || r.dialect}${r.stream ? " · stream" : ""}`),
        h("span", { class: "muted mono" }, r.path),
        h("span", { class: "spacer" }),
        h("span", { class: "faint", title: new Date(r.ts * 1000).toLocaleString() }, `${when(r.ts)} · ${ago(r.ts)}`)),
      r.error ? h("div", { class: "error-box", style: "margin-bottom:14px" }, `${r.error_kind || "error"}: ${r.error}`) : null,
      r.client_gone ? h("div", { class: "notice", style: "margin-bottom:14px" }, "The client left before the answer was complete.") : null,
      h("div", { class: "detail-meta" },
        meta("Model asked", r.client_model || "–"),
        meta("Model used", r.model ? `${r.backend}/${r.model}` : "–"),
        meta("Latency", ms(r.latency_ms)),
        meta("First byte", r.ttfb_ms !== null && r.ttfb_ms !== undefined ? ms(r.ttfb_ms) : "–"),
        meta("Tokens in / out", `${u(r.input_tokens)} / ${u(r.output_tokens)}`),
        r.cache_read_tokens ? meta("Cache read", num(r.cache_read_tokens)) : null,
        meta("Stop", r.stop_reason || "–"),
        meta("Attempts", (r.attempts || []).join(" → ") || "–"),
        meta("Sizes", `${bytes(r.request_bytes)} in · ${bytes(r.response_bytes)} out`)),
      r.truncated ? h("div", { class: "faint", style: "margin-top:10px" }, "Some bodies were cut to the record_body_limit.") : null),
    h("div", { class: "card" }, h("div", { class: "row", style: "align-items:flex-end" }, h("div", { style: "flex:1 1 300px;min-width:0" }, bar), tools), pane));
  show(tabs[0][0]);
}

function meta(label, value) {
  return h("div", {}, h("span", {}, label), h("b", {}, value));
}

function countEvents(text) {
  try { return ` (${JSON.parse(text).length})`; } catch (e) { return ""; }
}

function messageView(text) {
  let m;
  try { m = JSON.parse(text); } catch (e) { return codeView(text); }
  const blocks = (m.content || []).map((p) => {
    if (p.type === "text") return h("div", { class: "block" }, h("div", { class: "kind" }, "text"), h("div", { class: "text" }, p.text));
    if (p.type === "thinking") {
      return h("details", { class: "block thinking" }, h("summary", { class: "kind" }, `thinking · ${num((p.text || "").length)} chars`),
        h("div", { class: "text" }, p.text || (p.redacted ? "(redacted)" : "")));
    }
    if (p.type === "tool_call") {
      return h("div", { class: "block" }, h("div", { class: "kind" }, `tool call · ${p.name} · ${p.id}`), codeView(p.arguments));
    }
    return h("div", { class: "block" }, h("div", { class: "kind" }, p.type), codeView(JSON.stringify(p)));
  });
  const usage = m.usage || {};
  return h("div", {},
    h("div", { class: "row muted", style: "margin-bottom:10px" },
      h("span", { class: "chip" }, `stop: ${m.stop_reason}`),
      h("span", { class: "chip" }, `${num(usage.input_tokens || 0)} in · ${num(usage.output_tokens || 0)} out`),
      h("span", { class: "mono faint" }, m.model || "")),
    blocks.length ? blocks : h("div", { class: "empty" }, "The answer was empty."));
}

function eventsView(text) {
  let events;
  try { events = JSON.parse(text); } catch (e) { return codeView(text); }
  return h("div", {}, events.map((ev) => h("div", { class: "event" },
    h("div", { class: "name" }, ev.event || (ev.data && ev.data.type) || (ev.data && ev.data.object) || "data"),
    h("pre", { onclick: (e) => { if (e.detail === 2) copy(JSON.stringify(ev.data), "Event copied"); } },
      typeof ev.data === "string" ? ev.data : JSON.stringify(ev.data)))));
}
