// The API page: renders /openapi.json, which the server builds from its route table. Nothing
// is fetched from the network; the document is the server's own.
"use strict";

function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

// A schema in one line: a reference's name, an array of it, or its type.
function shape(schema) {
  if (!schema) return "";
  const name = refName(schema);
  if (name) return name;
  if (schema.type === "array") return "array of " + shape(schema.items);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  return Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || "any");
}

function schemaLink(schema) {
  const name = refName(schema) || (schema && schema.items && refName(schema.items));
  const text = shape(schema);
  if (!name) return element("code", text);
  const link = element("a", text);
  link.href = "#schema-" + name;
  return link;
}

function table(caption, headings, rows) {
  const t = element("table");
  t.setAttribute("aria-label", caption);
  const head = t.createTHead().insertRow();
  for (const h of headings) {
    const th = element("th", h);
    th.scope = "col";
    head.appendChild(th);
  }
  const body = t.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    for (const cell of cells) {
      const td = row.insertCell();
      if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell;
    }
  }
  return t;
}

function renderOperation(path, method, op) {
  const section = element("section", undefined, "operation");
  section.id = op.operationId;
  const title = element("h3");
  title.appendChild(element("code", method.toUpperCase() + " " + path));
  section.appendChild(title);
  section.appendChild(element("p", op.summary));
  const open = Array.isArray(op.security) && op.security.length === 0;
  section.appendChild(element("p", open ? "No token needed." : "Token: see the introduction."));
  const parameters = op.parameters || [];
  if (parameters.length) {
    section.appendChild(table("Parameters of " + op.operationId, ["Parameter", "In", "Required", "Type", "Meaning"],
      parameters.map((p) => [element("code", p.name), p.in, p.required ? "yes" : "no", shape(p.schema), p.description || ""])));
  }
  if (op.requestBody) {
    const schema = op.requestBody.content["application/json"].schema;
    const p = element("p", "Body (JSON): ");
    p.appendChild(schemaLink(schema));
    section.appendChild(p);
  }
  const answers = Object.entries(op.responses).map(([status, answer]) => {
    const content = answer.content || {};
    const media = Object.keys(content)[0] || "";
    const schema = media ? content[media].schema : null;
    return [status, answer.description, media, schema ? schemaLink(schema) : ""];
  });
  section.appendChild(table("Answers of " + op.operationId, ["Status", "When", "Content type", "Body"], answers));
  return section;
}

function renderSchemas(schemas) {
  const holder = document.getElementById("schemas");
  for (const [name, schema] of Object.entries(schemas)) {
    const section = element("section", undefined, "schema");
    section.id = "schema-" + name;
    section.appendChild(element("h3", name));
    if (schema.description) section.appendChild(element("p", schema.description));
    const required = new Set(schema.required || []);
    const rows = Object.entries(schema.properties || {}).map(([field, s]) =>
      [element("code", field), required.has(field) ? "yes" : "no", schemaLink(s), s.description || ""]);
    if (rows.length) section.appendChild(table("Fields of " + name, ["Field", "Required", "Type", "Meaning"], rows));
    holder.appendChild(section);
  }
}

async function load() {
  const status = document.getElementById("status");
  const answer = await fetch("/openapi.json", { cache: "no-store" });
  if (!answer.ok) {
    status.dataset.state = "error";
    status.textContent = "Cannot read /openapi.json: HTTP " + answer.status;
    return;
  }
  const doc = await answer.json();
  document.getElementById("intro").textContent = doc.info.description;
  const holder = document.getElementById("operations");
  for (const tag of doc.tags) {
    const group = element("section");
    group.appendChild(element("h2", tag.name));
    group.appendChild(element("p", tag.description));
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (op.tags.includes(tag.name)) group.appendChild(renderOperation(path, method, op));
      }
    }
    holder.appendChild(group);
  }
  renderSchemas(doc.components.schemas);
  status.dataset.state = "ready";
  status.textContent = Object.values(doc.paths).reduce((n, m) => n + Object.keys(m).length, 0) + " operations, OpenAPI " + doc.openapi;
}

load().catch((error) => {
  const status = document.getElementById("status");
  status.dataset.state = "error";
  status.textContent = "Cannot render the API: " + error;
});
