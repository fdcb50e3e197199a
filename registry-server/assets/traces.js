// The traces view: recent traces from the server's span files, and one trace as a waterfall.
"use strict";

function authHeaders() {
  const token = sessionStorage.getItem("registry-token") || "";
  return token ? { Authorization: "Bearer " + token } : {};
}

function setStatus(state, text) {
  const el = document.getElementById("status");
  el.dataset.state = state;
  el.textContent = text;
}

function td(row, text) {
  const cell = document.createElement("td");
  cell.textContent = text;
  row.appendChild(cell);
  return cell;
}

// A duration in milliseconds, in the unit a person reads best: 850 µs, 21 ms, 1.25 s, 2 min 5 s.
function ms(value) {
  if (value === null || value === undefined) return "open";
  if (value === 0) return "0 ms";
  if (value < 0.9995) return Math.round(value * 1000) + " µs";
  if (value < 9.95) return value.toFixed(1).replace(/\.0$/, "") + " ms";
  if (value < 999.5) return Math.round(value) + " ms";
  if (value < 59995) return (value / 1000).toFixed(2).replace(/\.?0+$/, "") + " s";
  const seconds = Math.round(value / 1000);
  return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
}

// `/traces?model_name=…&host=…&port=…` (the dashboard's link from an instance) lists only
// that instance's traces: its registers and deregisters.
function instanceQuery() {
  const page = new URLSearchParams(location.search);
  const about = new URLSearchParams();
  for (const name of ["model_name", "host", "port"]) if (page.get(name)) about.set(name, page.get(name));
  return about;
}

async function loadList() {
  setStatus("loading", "Loading…");
  const about = instanceQuery();
  const scope = document.getElementById("list-scope");
  scope.hidden = about.toString() === "";
  if (!scope.hidden) {
    scope.querySelector("span").textContent = "Traces of " + about.get("model_name") + "@" + about.get("host") + ":" + about.get("port") + ".";
  }
  about.set("limit", "100");
  const answer = await fetch("/api/traces?" + about, { headers: authHeaders(), cache: "no-store" });
  if (!answer.ok) {
    setStatus("error", "Cannot list traces: HTTP " + answer.status);
    return;
  }
  const traces = await answer.json();
  const body = document.querySelector("#traces tbody");
  body.replaceChildren();
  for (const t of traces) {
    const row = body.insertRow();
    row.dataset.traceId = t.trace_id;
    td(row, t.start_time);
    td(row, t.root_operation);
    td(row, String(t.span_count));
    td(row, ms(t.duration_ms));
    const link = document.createElement("a");
    link.href = "#" + encodeURIComponent(t.trace_id);
    link.textContent = t.trace_id;
    link.setAttribute("aria-label", "Show trace " + t.trace_id);
    td(row, "").appendChild(link);
  }
  setStatus("ready", traces.length + " trace(s). Spans are written in batches, so the newest may be missing for a few seconds.");
  filterList();
}

// Shows only the listed traces whose id or root operation contains the search text.
function filterList() {
  const text = document.getElementById("trace-search").value.trim().toLowerCase();
  for (const row of document.querySelectorAll("#traces tbody tr")) {
    const operation = row.cells[1].textContent.toLowerCase();
    const id = row.dataset.traceId.toLowerCase();
    row.hidden = text !== "" && !id.includes(text) && !operation.includes(text);
  }
}

async function showTrace(traceId) {
  const answer = await fetch("/api/traces/" + encodeURIComponent(traceId), { headers: authHeaders() });
  const section = document.getElementById("trace");
  if (!answer.ok) {
    setStatus("error", "Cannot show trace " + traceId + ": HTTP " + answer.status);
    section.hidden = true;
    return;
  }
  const trace = await answer.json();
  document.getElementById("trace-title").textContent = "Trace " + trace.trace_id;
  const total = Math.max(1e-6, ...trace.rows.map((r) => r.offset_ms + (r.duration_ms || 0)));
  const body = document.querySelector("#waterfall tbody");
  body.replaceChildren();
  for (const r of trace.rows) {
    const row = body.insertRow();
    row.dataset.spanId = r.span_id;
    const name = td(row, r.operation_name);
    name.style.paddingLeft = (0.5 + r.depth * 1.2) + "rem";
    td(row, r.span_type);
    td(row, ms(r.offset_ms));
    td(row, ms(r.duration_ms));
    const barCell = td(row, "");
    barCell.className = "bar-cell";
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.left = (100 * r.offset_ms / total) + "%";
    fill.style.width = (100 * (r.duration_ms || 0) / total) + "%";
    bar.appendChild(fill);
    barCell.appendChild(bar);
  }
  document.getElementById("tree-text").textContent = trace.text;
  section.hidden = false;
}

function route() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (id) showTrace(id).catch((error) => setStatus("error", String(error)));
}

document.getElementById("reload").addEventListener("click", () => loadList().catch((e) => setStatus("error", String(e))));
document.getElementById("trace-search").addEventListener("input", filterList);
window.addEventListener("hashchange", route);
loadList().catch((error) => setStatus("error", String(error)));
route();
