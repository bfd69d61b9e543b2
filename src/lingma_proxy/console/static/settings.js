// Settings: the effective configuration with where each value came from; edit, validate, apply.
import { api, h, errorBox, toast, codeView } from "./core.js";

const GROUPS = [
  ["Server", ["host", "port", "api_key", "admin_key", "insecure_no_auth", "log_level"]],
  ["Routing", ["backend", "model"]],
  ["Limits", ["timeout", "connect_timeout", "first_byte_timeout", "max_concurrent", "max_body_bytes", "ping_interval", "warmup_timeout"]],
  ["Features", ["tool_mode", "context_overflow", "context_window"]],
  ["OpenAI-compatible and Anthropic", ["openai_base_url", "openai_api_key", "anthropic_base_url", "anthropic_api_key"]],
  ["Lingma IPC", ["transport", "pipe", "ws_url", "cwd", "current_file_path", "mode", "shell_type", "session_mode", "shared_client_info", "ipc_socket"]],
  ["Lingma remote", ["remote_base_url", "remote_auth_file", "remote_proxy_url", "remote_version", "remote_fallback", "remote_fallback_models", "remote_identity", "cache_dir"]],
  ["Recording", ["data_dir", "record", "record_body_limit", "retention_days", "retention_mb", "trace"]],
];

export function render(view) {
  const holder = h("div", {}, h("div", { class: "skeleton" }, "Loading…"));
  const filter = h("input", { type: "search", placeholder: "Filter settings…", "aria-label": "filter settings" });
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    for (const row of holder.querySelectorAll(".setting")) {
      row.hidden = !!q && !row.textContent.toLowerCase().includes(q);
    }
    for (const group of holder.querySelectorAll(".settings-group")) {
      group.hidden = !!q && !group.querySelector(".setting:not([hidden])");
    }
  });
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Settings"), filter),
    h("p", { class: "muted", style: "margin:-6px 0 14px" },
      "Applying restarts the serving core in place (backends and routing are rebuilt; the process keeps running)."), holder);
  api("settings").then((d) => draw(holder, d), (e) => holder.replaceChildren(errorBox(e)));
}

function originChip(origin) {
  if (!origin) return null;
  let cls = "chip";
  if (origin === "console") cls += " accent";
  else if (origin.startsWith("env")) cls += " warn";
  else if (origin !== "default") cls += " ok";
  const label = origin.startsWith("/") || origin.includes("\\") ? "file" : origin;
  return h("span", { class: cls, title: origin }, label);
}

function shown(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.join(", ");
  return String(v);
}

function draw(holder, d) {
  const changes = new Map();
  const rows = new Map();
  const keys = new Map(d.keys.map((k) => [k.name, k]));
  const placed = new Set();
  const status = h("span", { class: "muted" }, "No changes.");
  const save = h("input", { type: "checkbox", id: "save-file" });
  const apply = h("button", { class: "btn primary", type: "button", disabled: true }, "Apply");
  const discard = h("button", { class: "btn", type: "button", disabled: true }, "Discard");
  const banner = h("div", {});

  function control(k) {
    const value = d.values[k.name];
    let input;
    if (k.type === "bool" || k.type === "tribool") {
      input = h("select", {},
        k.type === "tribool" ? h("option", { value: "" }, "unset (backend default)") : null,
        h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
      input.value = value === null || value === undefined ? "" : String(value);
    } else if (k.choices.length) {
      input = h("select", {}, k.choices.map((c) => h("option", { value: c }, c)));
      input.value = shown(value);
    } else if (k.type === "secret") {
      input = h("input", { type: "password", autocomplete: "off", placeholder: value ? `${value} (unchanged)` : "not set" });
    } else {
      input = h("input", { type: k.type === "int" || k.type === "float" ? "number" : "text",
        step: k.type === "float" ? "any" : null, value: shown(value), placeholder: k.default !== null && k.default !== undefined ? shown(k.default) : "" });
    }
    const initial = input.value;
    input.addEventListener(input.tagName === "SELECT" ? "change" : "input", () => {
      const row = rows.get(k.name);
      row.el.classList.remove("bad");
      row.err.textContent = "";
      if (input.value === initial) changes.delete(k.name);
      else changes.set(k.name, toValue(k, input.value));
      row.el.classList.toggle("changed", changes.has(k.name));
      refresh();
    });
    return { input, reset: () => { input.value = initial; } };
  }

  function toValue(k, text) {
    if (k.type === "bool") return text === "true";
    if (k.type === "tribool") return text === "" ? null : text === "true";
    if (text.trim() === "") return null;  // back to the file, environment or default
    return text;  // parsed and checked by the server's loader, exactly as a flag
  }

  function row(k) {
    const c = control(k);
    const err = h("div", { class: "field-error" });
    const el = h("div", { class: "setting", "data-key": k.name },
      h("div", {}, h("div", { class: "name" }, k.name), h("div", { class: "help" }, k.help)),
      h("div", { class: "control" }, c.input, originChip(d.origins[k.name]),
        k.restart ? h("span", { class: "chip", title: "read when the process starts" }, "needs process restart") : null, err));
    rows.set(k.name, { el, err, reset: c.reset });
    placed.add(k.name);
    return el;
  }

  function refresh() {
    const n = changes.size;
    status.textContent = n ? `${n} change${n > 1 ? "s" : ""} not applied` : "No changes.";
    apply.disabled = !n;
    discard.disabled = !n;
  }

  discard.addEventListener("click", () => {
    for (const [name] of changes) { const r = rows.get(name); r.reset(); r.el.classList.remove("changed", "bad"); r.err.textContent = ""; }
    changes.clear();
    banner.replaceChildren();
    refresh();
  });

  apply.addEventListener("click", async () => {
    apply.disabled = true;
    banner.replaceChildren(h("div", { class: "notice" }, "Applying…"));
    try {
      const r = await api("settings", { json: { values: Object.fromEntries(changes), save: save.checked } });
      const notes = [`Applied: ${r.changed.join(", ") || "nothing changed"}.`];
      if (r.needs_process_restart.length) notes.push(`${r.needs_process_restart.join(", ")} take effect at the next start.`);
      if (r.saved_to) notes.push(`Saved to ${r.saved_to}.`);
      toast("Settings applied");
      draw(holder, r.settings);
      holder.prepend(h("div", { class: "notice", style: "margin-bottom:12px" }, notes.join(" ")));
    } catch (e) {
      const key = e.body && e.body.error && e.body.error.key;
      if (key && rows.has(key)) {
        const r = rows.get(key);
        r.el.classList.add("bad");
        r.err.textContent = e.message;
        r.el.scrollIntoView({ block: "center", behavior: "smooth" });
      }
      banner.replaceChildren(errorBox(e));
      apply.disabled = false;
    }
  });

  const groups = GROUPS.map(([title, names]) => {
    const items = names.filter((n) => keys.has(n)).map((n) => row(keys.get(n)));
    return items.length ? h("div", { class: "card settings-group" }, h("h2", {}, title), items) : null;
  });
  const rest = d.keys.filter((k) => !placed.has(k.name)).map(row);
  if (rest.length) groups.push(h("div", { class: "card settings-group" }, h("h2", {}, "Other"), rest));
  const structured = h("div", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Backends and routes"),
    h("span", { class: "faint" }, `from ${d.origins.backends || "default"} · edit them in the config file`)),
    codeView(JSON.stringify({ backends: d.values.backends, routes: d.values.routes })));
  holder.replaceChildren(
    h("div", { class: "muted", style: "margin-bottom:12px" },
      d.config_file ? `Config file: ${d.config_file}` : "No config file: values come from defaults, the environment and flags."),
    h("div", { class: "stack" }, groups, structured),
    h("div", { class: "applybar" }, status, h("span", { class: "spacer" }),
      h("label", { class: "row muted", for: "save-file" }, save, "also save to the config file"), discard, apply),
    banner);
  refresh();
}
