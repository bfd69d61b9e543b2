// Small helpers shared by every page: DOM building, the JSON API, formatting, copy, toasts.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") el.setAttribute("style", v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export class ApiError extends Error {
  constructor(message, status, body) { super(message); this.status = status; this.body = body; }
}

export async function api(path, options = {}) {
  const init = { headers: { accept: "application/json" }, ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  let r;
  try {
    r = await fetch("/console/api/" + path, init);
  } catch (e) {
    throw new ApiError("the proxy is not answering (stopped or restarting?)", 0, null);
  }
  let body = null;
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) {
    const msg = (body && body.error && body.error.message) || `HTTP ${r.status}`;
    throw new ApiError(msg, r.status, body);
  }
  return body;
}

// ------------------------------------------------------------------ formatting

export function ms(v) {
  if (v === null || v === undefined) return "–";
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
  return `${Math.floor(v / 60000)}m ${Math.round((v % 60000) / 1000)}s`;
}

export function num(v) {
  if (v === null || v === undefined) return "–";
  if (v < 1000) return String(v);
  if (v < 1e6) return (v / 1e3).toFixed(v < 1e4 ? 1 : 0) + "k";
  if (v < 1e9) return (v / 1e6).toFixed(v < 1e7 ? 2 : 1) + "M";
  return (v / 1e9).toFixed(2) + "B";
}

export function bytes(v) {
  if (!v) return "0 B";
  if (v < 1024) return `${v} B`;
  if (v < 1048576) return `${(v / 1024).toFixed(1)} KB`;
  return `${(v / 1048576).toFixed(1)} MB`;
}

const pad = (n) => String(n).padStart(2, "0");
export function when(ts) {
  const d = new Date(ts * 1000);
  const now = new Date();
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return t;
  const y = new Date(now); y.setDate(now.getDate() - 1);
  if (d.toDateString() === y.toDateString()) return "yesterday " + t.slice(0, 5);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t.slice(0, 5)}`;
}

export function ago(ts) {
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 60) return `${Math.round(s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function duration(sec) {
  const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), mm = Math.floor((sec % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  return `${mm}m ${Math.floor(sec % 60)}s`;
}

export const DIALECTS = { openai_chat: "Chat", openai_responses: "Responses", anthropic_messages: "Messages" };

export function statusChip(status, extra) {
  let cls = "ok";
  if (!status) cls = "";
  else if (status === 499) cls = "warn";
  else if (status >= 500) cls = "err";
  else if (status >= 400) cls = "warn";
  const label = status === 499 ? "499 left" : String(status || "–");
  return h("span", { class: `chip ${cls}`, title: extra || null }, label);
}

// ------------------------------------------------------------------ JSON

function escapeHtml(t) {
  return t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const TOKEN = /("(?:\\u[a-fA-F0-9]{4}|\\[^u]|[^\\"])*"(\s*:)?|\b(?:true|false|null)\b|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)/g;

export function pretty(text) {
  if (text === null || text === undefined) return "";
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}

// Highlighting works on escaped text (only &, <, > need escaping inside <pre>), so no data
// from a recorded body can become markup.
export function codeView(text, { highlight = true } = {}) {
  const pre = h("pre", { class: "code" });
  const body = pretty(text);
  if (!highlight || body.length > 400000) {
    pre.textContent = body;
    return pre;
  }
  pre.innerHTML = escapeHtml(body).replace(TOKEN, (m, str, colon) => {
    if (str) return colon ? `<span class="k">${str.slice(0, -colon.length)}</span>${colon}` : `<span class="s">${m}</span>`;
    if (m === "true" || m === "false" || m === "null") return `<span class="l">${m}</span>`;
    return `<span class="n">${m}</span>`;
  });
  return pre;
}

// ------------------------------------------------------------------ copy and toast

let toastTimer = 0;
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 1800);
}

export async function copy(text, what = "Copied") {
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    // no clipboard permission (http on a LAN address, a headless browser): the old way
    const ta = h("textarea", { style: "position:fixed;top:-1000px;opacity:0" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e2) { /* nothing more to try */ }
    ta.remove();
  }
  toast(what);
}

export function copyButton(getText, label = "Copy") {
  return h("button", { class: "btn small", type: "button", onclick: () => copy(getText(), `${label}: copied`) }, copyIcon(), label);
}

export function errorBox(err) {
  return h("div", { class: "error-box" }, err && err.message ? err.message : String(err));
}

export function copyIcon() {
  return s("svg", { class: "ic", viewBox: "0 0 16 16", "aria-hidden": "true" },
    s("rect", { x: 5, y: 5, width: 8.5, height: 8.5, rx: 1.5 }),
    s("path", { d: "M3.5 10.5h-.5A1.5 1.5 0 0 1 1.5 9V3A1.5 1.5 0 0 1 3 1.5h6A1.5 1.5 0 0 1 10.5 3v.5" }));
}
