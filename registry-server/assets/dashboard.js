// The registry dashboard: instances grouped by model, kept current by the change feed's long
// poll (GET /api/controller/watch), with enable/disable and weight changes for operators.
"use strict";

const TOKEN_KEY = "registry-token";
const WATCH_WAIT = "30s";
const HEARTBEAT_REFRESH_MS = 5000;

let index = 0;
let instances = [];

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
  const el = document.getElementById("status");
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

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
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

function instanceRow(i) {
  const row = document.createElement("tr");
  const name = key(i);
  row.dataset.instance = name;
  row.dataset.healthy = String(i.healthy);
  row.dataset.enabled = String(i.enabled);
  row.dataset.weight = String(i.weight);
  if (!i.enabled) row.className = "disabled";
  cell(row, i.host + ":" + i.port);
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
    if (!Number.isFinite(value) || value < 0) {
      setStatus("error", "A weight is a number of 0 or more.");
      return;
    }
    change(i, { weight: value });
  }));
  cell(row, i.enabled ? "yes" : "no").dataset.role = "enabled";
  cell(row, i.healthy ? "yes" : "no", i.healthy ? "healthy-yes" : "healthy-no").dataset.role = "healthy";
  const age = cell(row, since(i.last_heartbeat), "num");
  age.dataset.role = "since";
  age.dataset.lastHeartbeat = i.last_heartbeat || "";
  const actions = cell(row, "");
  actions.appendChild(i.enabled
    ? button("Disable " + name, "Disable", "disable", () => change(i, { enabled: false }))
    : button("Enable " + name, "Enable", "enable", () => change(i, { enabled: true })));
  return row;
}

function render() {
  const models = new Map();
  for (const i of instances) {
    if (!models.has(i.model_name)) models.set(i.model_name, []);
    models.get(i.model_name).push(i);
  }
  const container = document.getElementById("models");
  container.replaceChildren();
  for (const name of [...models.keys()].sort()) {
    const list = models.get(name);
    const healthy = list.filter((i) => i.healthy).length;
    const section = document.createElement("section");
    section.dataset.model = name;
    const heading = document.createElement("h2");
    heading.textContent = name + " — " + list.length + " instance" + (list.length === 1 ? "" : "s") +
      ", " + healthy + " healthy";
    heading.dataset.role = "counts";
    section.appendChild(heading);
    const table = document.createElement("table");
    table.setAttribute("aria-label", "Instances of " + name);
    const head = table.createTHead().insertRow();
    for (const title of ["Address", "Weight", "Enabled", "Healthy", "Last heartbeat", "Action"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = title;
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const i of list) body.appendChild(instanceRow(i));
    section.appendChild(table);
    container.appendChild(section);
  }
  document.getElementById("empty").hidden = instances.length !== 0;
  const summary = document.getElementById("summary");
  summary.dataset.index = String(index);
  summary.textContent = models.size + " model(s), " + instances.length + " instance(s)";
}

function tick() {
  for (const el of document.querySelectorAll('[data-role="since"]')) {
    el.textContent = since(el.dataset.lastHeartbeat);
  }
}

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
    await refresh();
  } catch (error) {
    setStatus("error", "Change failed: " + error);
  }
}

// Heartbeats move no index, so the times of the last heartbeats are re-read now and then.
async function refresh() {
  const answer = await fetch("/api/controller/models", { headers: headers(false) });
  if (answer.ok) {
    instances = await answer.json();
    render();
  }
}

async function watch() {
  for (;;) {
    try {
      const answer = await fetch("/api/controller/watch?index=" + index + "&timeout=" + WATCH_WAIT,
        { headers: headers(false), cache: "no-store" });
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      const json = await answer.json();
      index = json.index;
      instances = json.instances;
      render();
      setStatus("live", "Live: up to date.");
    } catch (error) {
      setStatus("error", "Cannot reach the registry (" + error.message + "); retrying.");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function setUpToken() {
  const input = document.getElementById("token-input");
  input.value = token();
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    setStatus("live", "Token saved for this tab.");
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    input.value = "";
  });
}

setUpToken();
setInterval(tick, 1000);
setInterval(() => refresh().catch(() => {}), HEARTBEAT_REFRESH_MS);
watch();
