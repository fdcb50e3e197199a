// The registry dashboard: one row per model, instances on demand with search, filters and
// paging, kept current by the dashboard's long poll (GET /api/controller/dashboard), which
// answers a summary and the page in view, never the whole registry. The view lives in the
// address's fragment (#model=…&health=…), so a view can be linked to.
"use strict";

const TOKEN_KEY = "registry-token";
const WATCH_WAIT = "30s";
const HEARTBEAT_REFRESH_MS = 5000;
const MODEL_PAGE = 50;
const INSTANCE_PAGE = 100;
const HOUR_MS = 3600 * 1000;

const view = {
  model_search: "", model_offset: 0, model: "", host: "", health: "any", enabled: "any",
  flapping: false, offset: 0, instances: false,
};
let index = 0;
let inFlight = null;
let readyMarked = false;
let historyOf = null;

const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}

function setStatus(state, text) {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
}

function key(i) {
  return i.model_name + "@" + i.host + ":" + i.port;
}

function since(lastHeartbeat) {
  if (!lastHeartbeat) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(lastHeartbeat)) / 1000);
  if (seconds < 60) return seconds.toFixed(0) + " s ago";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s ago";
  return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min ago";
}

function percent(part, whole) {
  return whole > 0 ? Math.round((100 * part) / whole) + "%" : "–";
}

function cell(row, content, className) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function button(label, text, action, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.dataset.action = action;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

function table(label, titles) {
  const t = document.createElement("table");
  t.setAttribute("aria-label", label);
  const head = t.createTHead().insertRow();
  for (const title of titles) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = title;
    head.appendChild(th);
  }
  return t;
}

// --- The view and the address ---

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  view.model = params.get("model") || "";
  view.host = params.get("host") || "";
  view.health = params.get("health") || "any";
  view.enabled = params.get("enabled") || "any";
  view.flapping = params.get("flapping") === "true";
  view.instances = params.has("instances") || view.model !== "" || view.host !== "";
  $("filter-model").value = view.model;
  $("filter-host").value = view.host;
  $("filter-health").value = view.health;
  $("filter-enabled").value = view.enabled;
  $("filter-flapping").checked = view.flapping;
}

function writeHash() {
  const params = new URLSearchParams();
  if (view.instances) params.set("instances", "");
  for (const name of ["model", "host"]) if (view[name]) params.set(name, view[name]);
  for (const name of ["health", "enabled"]) if (view[name] !== "any") params.set(name, view[name]);
  if (view.flapping) params.set("flapping", "true");
  history.replaceState(null, "", params.toString() ? "#" + params.toString() : location.pathname);
}

// A new view is answered at once: the poll in flight is dropped and the next one asks with
// no index.
function viewChanged() {
  writeHash();
  index = 0;
  if (inFlight) inFlight.abort();
}

function query() {
  const params = new URLSearchParams({
    index: String(index), timeout: WATCH_WAIT,
    model_search: view.model_search, model_offset: String(view.model_offset), model_limit: String(MODEL_PAGE),
    model: view.model, host: view.host, health: view.health, enabled: view.enabled,
    flapping: view.flapping ? "true" : "any",
    offset: String(view.offset), limit: String(view.instances ? INSTANCE_PAGE : 1),
  });
  return "/api/controller/dashboard?" + params;
}

// --- Rendering ---

function modelRow(m) {
  const row = document.createElement("tr");
  row.dataset.model = m.model_name;
  row.dataset.healthy = String(m.healthy);
  cell(row, m.model_name);
  cell(row, String(m.instances), "num");
  cell(row, String(m.healthy), m.healthy > 0 ? "num healthy-yes" : "num healthy-no").dataset.role = "counts";
  cell(row, String(m.enabled), "num");
  cell(row, percent(m.serving_weight, m.total_weight) + " of " + m.total_weight, "num");
  cell(row, window.pictures.sparkline(m.healthy_history, "Healthy instances of " + m.model_name + ", lowest per minute, last hour"));
  cell(row, m.flapping ? String(m.flapping) : "", m.flapping ? "num flapping-count" : "num");
  cell(row, button("Show the instances of " + m.model_name, "Instances", "show-model", () => {
    view.model = m.model_name;
    view.host = "";
    view.offset = 0;
    view.instances = true;
    $("filter-model").value = m.model_name;
    $("filter-host").value = "";
    viewChanged();
  }));
  return row;
}

function instanceRow(i) {
  const row = document.createElement("tr");
  const name = key(i);
  row.dataset.instance = name;
  row.dataset.healthy = String(i.healthy);
  row.dataset.enabled = String(i.enabled);
  row.dataset.weight = String(i.weight);
  row.dataset.flapping = String(i.flapping > 0);
  row.className = (i.enabled ? "" : "disabled ") + (i.flapping > 0 ? "flapping" : "");
  cell(row, i.host + ":" + i.port);
  cell(row, i.model_name);
  const weight = cell(row, "", "num");
  const input = document.createElement("input");
  input.type = "number";
  input.min = "0";
  input.step = "any";
  input.value = String(i.weight);
  input.dataset.role = "weight";
  input.setAttribute("aria-label", "Weight of " + name);
  weight.appendChild(input);
  weight.appendChild(button("Set the weight of " + name, "Set", "weight", () => {
    const value = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(value) || value < 0) {
      setStatus("error", "A weight is a number of 0 or more.");
      return;
    }
    change(i, { weight: value });
  }));
  cell(row, i.share > 0 ? (100 * i.share).toFixed(1) + "%" : "–", "num");
  cell(row, i.enabled ? "yes" : "no").dataset.role = "enabled";
  const health = i.healthy ? "yes" : "no";
  cell(row, i.flapping > 0 ? health + " (flapping: " + i.flapping + " changes)" : health,
    i.healthy ? "healthy-yes" : "healthy-no").dataset.role = "healthy";
  const age = cell(row, since(i.last_heartbeat), "num");
  age.dataset.role = "since";
  age.dataset.lastHeartbeat = i.last_heartbeat || "";
  const actions = cell(row, "");
  actions.appendChild(i.enabled
    ? button("Disable " + name, "Disable", "disable", () => change(i, { enabled: false }))
    : button("Enable " + name, "Enable", "enable", () => change(i, { enabled: true })));
  actions.appendChild(button("Transitions of " + name, "History", "history", () => showHistory(i)));
  const traces = document.createElement("a");
  traces.href = "/traces?" + new URLSearchParams({ model_name: i.model_name, host: i.host, port: String(i.port) });
  traces.textContent = "Traces";
  traces.dataset.action = "traces";
  traces.setAttribute("aria-label", "Register and deregister traces of " + name);
  actions.appendChild(traces);
  return row;
}

function pager(prefix, rows, onMove) {
  const first = rows.matched === 0 ? 0 : rows.offset + 1;
  const last = Math.min(rows.offset + rows.rows.length, rows.matched);
  $(prefix + "-range").textContent = first + "–" + last + " of " + rows.matched;
  $(prefix + "-prev").disabled = rows.offset === 0;
  $(prefix + "-next").disabled = last >= rows.matched;
  $(prefix + "-prev").onclick = () => onMove(Math.max(0, rows.offset - rows.limit));
  $(prefix + "-next").onclick = () => onMove(rows.offset + rows.limit);
}

function render(answer) {
  const t = answer.totals;
  $("summary").textContent = t.models + " model(s), " + t.instances + " instance(s), " + t.healthy +
    " healthy, " + t.enabled + " enabled" + (t.flapping ? ", " + t.flapping + " flapping" : "");
  const models = table("Models", ["Model", "Instances", "Healthy", "Enabled", "Serving weight", "Healthy, last hour", "Flapping", ""]);
  const modelBody = models.createTBody();
  for (const m of answer.models.rows) modelBody.appendChild(modelRow(m));
  $("models").replaceChildren(models);
  pager("models", answer.models, (offset) => { view.model_offset = offset; viewChanged(); });

  $("instances-panel").hidden = !view.instances;
  if (view.instances) {
    $("instances-title").textContent = view.model ? "Instances of " + view.model : "Instances";
    const instances = table("Instances", ["Address", "Model", "Weight", "Share", "Enabled", "Healthy", "Last heartbeat", "Action"]);
    const body = instances.createTBody();
    for (const i of answer.instances.rows) body.appendChild(instanceRow(i));
    $("instances").replaceChildren(instances);
    pager("instances", answer.instances, (offset) => { view.offset = offset; viewChanged(); });
  }
  $("empty").hidden = t.instances !== 0;
}

function tick() {
  for (const el of document.querySelectorAll('[data-role="since"]')) {
    el.textContent = since(el.dataset.lastHeartbeat);
  }
}

// --- History of one instance ---

async function showHistory(i) {
  historyOf = i;
  const params = new URLSearchParams({ model_name: i.model_name, host: i.host, port: String(i.port), limit: "200" });
  const answer = await fetch("/api/controller/history?" + params, { headers: headers(false) });
  if (!answer.ok) {
    setStatus("error", "Transitions could not be read (HTTP " + answer.status + ").");
    return;
  }
  const json = await answer.json();
  $("history-title").textContent = "Transitions of " + key(i) + " in the last hour";
  $("timeline").replaceChildren(window.pictures.timeline(json.transitions, Date.now(), HOUR_MS));
  const list = $("transitions");
  list.replaceChildren();
  for (const t of json.transitions) {
    const item = document.createElement("li");
    item.dataset.kind = t.kind;
    item.textContent = new Date(t.at).toLocaleTimeString() + " — " + t.kind.replace("_", " ") +
      (t.kind === "weight_changed" ? " to " + t.weight : "");
    list.appendChild(item);
  }
  if (json.transitions.length === 0) {
    const item = document.createElement("li");
    item.textContent = "No transition since this server started (or in the last hour).";
    list.appendChild(item);
  }
  $("history-panel").hidden = false;
}

// --- Writes ---

// What a FastAPI-shaped error body says: one sentence, or each problem's field and message.
function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (!Array.isArray(detail)) return "";
  return detail.map((p) => (p.loc || []).slice(1).join(".") + ": " + p.msg).join("; ");
}

async function change(instance, settings) {
  const body = Object.assign({ model_name: instance.model_name, host: instance.host, port: instance.port }, settings);
  try {
    const answer = await fetch("/api/controller/models/settings", {
      method: "POST", headers: headers(true), body: JSON.stringify(body),
    });
    if (answer.status === 401) {
      setStatus("error", "The server wants the write token: enter it above.");
      return;
    }
    const json = await answer.json();
    if (!answer.ok) {
      setStatus("error", "Change refused: " + (detailText(json.detail) || answer.status));
      return;
    }
    setStatus("live", "Changed " + key(instance) + ".");
    viewChanged();
  } catch (error) {
    setStatus("error", "Change failed: " + error);
  }
}

// --- The long poll ---

async function watch() {
  for (;;) {
    inFlight = new AbortController();
    try {
      const answer = await fetch(query(), { headers: headers(false), cache: "no-store", signal: inFlight.signal });
      if (answer.status === 401) {
        setStatus("error", "The server wants the token to show the registry: enter it above.");
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      const json = await answer.json();
      index = json.index;
      render(json);
      setStatus("live", "Live: up to date.");
      if (!readyMarked) {
        readyMarked = true;
        window.dashboardReadyAt = performance.now();
      }
    } catch (error) {
      if (error.name === "AbortError") continue;
      setStatus("error", "Cannot reach the registry (" + error.message + "); retrying.");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function setUp() {
  const input = $("token-input");
  input.value = token();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    setStatus("live", "Token saved for this tab.");
    viewChanged();
  });
  $("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
  });
  let typing = null;
  const later = (apply) => () => {
    clearTimeout(typing);
    typing = setTimeout(() => { apply(); viewChanged(); }, 250);
  };
  $("model-search").addEventListener("input", later(() => {
    view.model_search = $("model-search").value.trim();
    view.model_offset = 0;
  }));
  const readSearches = later(() => {
    view.model = $("filter-model").value.trim();
    view.host = $("filter-host").value.trim();
    view.offset = 0;
  });
  for (const id of ["filter-model", "filter-host"]) {
    $(id).addEventListener("input", readSearches);
    $(id).addEventListener("change", readSearches);
  }
  for (const id of ["filter-health", "filter-enabled", "filter-flapping"]) {
    $(id).addEventListener("change", () => {
      view.health = $("filter-health").value;
      view.enabled = $("filter-enabled").value;
      view.flapping = $("filter-flapping").checked;
      view.offset = 0;
      viewChanged();
    });
  }
  for (const form of ["model-filter", "instance-filter"]) $(form).addEventListener("submit", (e) => e.preventDefault());
  $("show-all").addEventListener("click", () => {
    view.instances = true;
    view.model = "";
    $("filter-model").value = "";
    view.offset = 0;
    viewChanged();
  });
  $("instances-close").addEventListener("click", () => { view.instances = false; viewChanged(); });
  $("history-close").addEventListener("click", () => { $("history-panel").hidden = true; historyOf = null; });
  window.addEventListener("hashchange", () => { readHash(); viewChanged(); });
  readHash();
}

setUp();
setInterval(tick, 1000);
// Heartbeats move no index: the view is re-read now and then for the times of the last ones
// (and the history panel with it).
setInterval(() => {
  index = 0;
  if (inFlight) inFlight.abort();
  if (historyOf && !$("history-panel").hidden) showHistory(historyOf).catch(() => {});
}, HEARTBEAT_REFRESH_MS);
watch();
