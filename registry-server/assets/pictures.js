// Small inline SVG pictures for the dashboard: a model's healthy count over the last hour and
// an instance's transitions on a time line. Drawn from data, with nothing fetched.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  return el;
}

// One value per minute, oldest first; null where the server took no reading. Each run of
// readings is one line, so a gap shows as a gap, not as a slope.
function sparkline(values, label) {
  const width = 120;
  const height = 24;
  const top = Math.max(1, ...values.filter((v) => v !== null));
  const svg = svgElement("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "spark" });
  svg.setAttribute("aria-label", label);
  const title = svgElement("title", {});
  title.textContent = label;
  svg.appendChild(title);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  let run = [];
  const flush = () => {
    // A lone reading is drawn as a short flat stroke ending at its minute.
    if (run.length === 1) run.unshift([Math.max(0, run[0][0] - 4), run[0][1]]);
    if (run.length > 1) {
      const points = run.map(([x, y]) => x.toFixed(1) + "," + y.toFixed(1)).join(" ");
      svg.appendChild(svgElement("polyline", { points, class: "spark-line" }));
    }
    run = [];
  };
  values.forEach((value, i) => {
    if (value === null) {
      flush();
      return;
    }
    const y = height - 2 - (value / top) * (height - 4);
    run.push([i * step, y]);
    if (value === 0) svg.appendChild(svgElement("circle", { cx: (i * step).toFixed(1), cy: height - 2, r: 2, class: "spark-zero" }));
  });
  flush();
  return svg;
}

const KIND_CLASS = {
  registered: "mark-up", recovered: "mark-up", expired: "mark-down", deregistered: "mark-down",
  enabled: "mark-setting", disabled: "mark-setting", weight_changed: "mark-setting",
};

// The transitions of the last `spanMs` before `now` as marks on a line: green up, red down,
// grey for operator settings.
function timeline(transitions, now, spanMs) {
  const width = 600;
  const height = 28;
  const svg = svgElement("svg", { width: "100%", height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "timeline" });
  svg.setAttribute("aria-label", transitions.length + " transitions in the last hour");
  svg.appendChild(svgElement("line", { x1: 0, y1: height / 2, x2: width, y2: height / 2, class: "timeline-axis" }));
  for (const t of transitions) {
    const age = now - Date.parse(t.at);
    if (age < 0 || age > spanMs) continue;
    const x = width - (age / spanMs) * width;
    const mark = svgElement("rect", { x: Math.max(0, x - 2).toFixed(1), y: 4, width: 4, height: height - 8, class: KIND_CLASS[t.kind] || "mark-setting" });
    const title = svgElement("title", {});
    title.textContent = t.kind + " at " + new Date(t.at).toLocaleTimeString();
    mark.appendChild(title);
    svg.appendChild(mark);
  }
  return svg;
}

window.pictures = { sparkline, timeline };
