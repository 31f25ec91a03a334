// ncd-run serve: a read-only page. Lists runs (GET /api/runs), shows one run's plan as a graph
// (GET /api/plans/{id}) with per-step statuses (GET /api/runs/{id}) kept live by the run's event stream
// (GET /api/runs/{id}/events, text/event-stream). The stream is read with fetch() so that the bearer token
// travels in the Authorization header, never in a URL. Every text from the server is set with textContent.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const state = { token: sessionStorage.getItem("ncd-token") || "", runId: null, stream: null, nodes: new Map() };

function headers() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

function say(text) {
  document.getElementById("message").textContent = text || "";
}

async function api(path) {
  const resp = await fetch(path, { headers: headers() });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    throw new Error((body.error && body.error.message) || resp.status + " " + resp.statusText);
  }
  return body;
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

async function loadRuns() {
  let doc;
  try {
    doc = await api("/api/runs?limit=200");
  } catch (err) {
    say(err.message);
    return;
  }
  say("");
  const body = document.querySelector("#runs tbody");
  body.replaceChildren();
  for (const run of doc.runs) {
    const tr = document.createElement("tr");
    tr.dataset.runId = run.run_id;
    if (run.run_id === state.runId) tr.classList.add("selected");
    cell(tr, run.run_id);
    cell(tr, run.plan_id || "?");
    const st = run.queued ? "queued" : run.status;
    const span = document.createElement("span");
    span.className = "st " + st;
    span.textContent = st;
    cell(tr, "").appendChild(span);
    cell(tr, (run.created_at || "").replace("T", " ").slice(0, 19));
    tr.addEventListener("click", () => showRun(run.run_id));
    body.appendChild(tr);
  }
}

function svgEl(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function drawGraph(plan) {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  state.nodes = new Map();
  const defs = svgEl("defs", {}, svg);
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6,
                                   markerHeight: 6, orient: "auto-start-reverse" }, defs);
  svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#999" }, marker);
  const infs = plan.graph.nodes.filter((n) => n.kind === "inference");
  const levels = new Map();
  for (const n of infs) {
    const lv = n.level == null ? 0 : n.level;
    if (!levels.has(lv)) levels.set(lv, []);
    levels.get(lv).push(n);
  }
  const W = 190, H = 46, GX = 40, GY = 14;
  const pos = new Map();
  const order = [...levels.keys()].sort((a, b) => a - b);
  let maxRows = 0;
  order.forEach((lv, col) => {
    levels.get(lv).forEach((n, row) => {
      pos.set(n.id, { x: 10 + col * (W + GX), y: 10 + row * (H + GY) });
      maxRows = Math.max(maxRows, row + 1);
    });
  });
  svg.setAttribute("width", 20 + order.length * (W + GX));
  svg.setAttribute("height", 20 + maxRows * (H + GY));
  for (const e of plan.graph.edges) {
    if (e.kind !== "depends") continue;
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    svgEl("line", { x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2 }, svg);
  }
  for (const n of infs) {
    const p = pos.get(n.id);
    const g = svgEl("g", { transform: `translate(${p.x},${p.y})` }, svg);
    const rect = svgEl("rect", { width: W, height: H, class: "pending" }, g);
    const title = svgEl("title", {}, g);
    title.textContent = `${n.flow_index} ${n.sequence}\n${n.label}\n${n.function || ""}`;
    const t1 = svgEl("text", { x: 6, y: 16 }, g);
    t1.textContent = `${n.flow_index} ${n.sequence}`;
    const t2 = svgEl("text", { x: 6, y: 32 }, g);
    t2.textContent = (n.label || "").slice(0, 30);
    state.nodes.set(n.flow_index, { rect, title, base: title.textContent, count: 0 });
  }
}

function setStatus(flowIndex, status, iteration) {
  const node = state.nodes.get(flowIndex);
  if (!node) return;
  node.rect.setAttribute("class", status);
  if (iteration) node.count += 1;
  node.title.textContent = node.base + `\nstatus: ${status}` + (node.count ? ` (${node.count} iterations)` : "");
}

function logEvent(text) {
  const li = document.createElement("li");
  li.textContent = text;
  const ol = document.getElementById("event-log");
  ol.insertBefore(li, ol.firstChild);
  while (ol.children.length > 200) ol.removeChild(ol.lastChild);
}

function summarize(run) {
  const counts = Object.entries(run.counts || {}).map(([k, v]) => `${v} ${k}`).join(", ");
  document.getElementById("run-summary").textContent =
    `plan ${run.plan_id || "?"} · ${run.queued ? "queued" : run.status} · ${counts || "no steps yet"}` +
    (run.parent_run_id ? ` · fork of ${run.parent_run_id}@${run.parent_seq}` : "");
}

// Server-sent events over fetch: "id:", "event:" and "data:" lines, events separated by a blank line.
async function follow(runId) {
  if (state.stream) state.stream.abort();
  const ctrl = new AbortController();
  state.stream = ctrl;
  const url = `/api/runs/${encodeURIComponent(runId)}/events`;
  document.getElementById("events-url").textContent = url;
  let resp;
  try {
    resp = await fetch(url, { headers: { ...headers(), Accept: "text/event-stream" }, signal: ctrl.signal });
  } catch (err) {
    return;
  }
  if (!resp.ok || !resp.body) return;
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      return;
    }
    if (chunk.done) return;
    buf += decoder.decode(chunk.value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let type = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (!data || runId !== state.runId) continue;
      const ev = JSON.parse(data);
      if (type === "end") {
        logEvent(`end: ${ev.status}`);
        refreshRun(runId);
        loadRuns();
      } else if (ev.kind === "item") {
        setStatus(ev.flow_index, ev.status, ev.iteration);
        logEvent(`#${ev.n} ${ev.flow_index}${ev.iteration ? " [" + ev.iteration + "]" : ""} ${ev.status} ` +
                 (ev.concept || ""));
      }
    }
  }
}

async function refreshRun(runId) {
  try {
    const run = await api(`/api/runs/${encodeURIComponent(runId)}`);
    if (runId === state.runId) summarize(run);
    return run;
  } catch (err) {
    say(err.message);
    return null;
  }
}

async function showRun(runId) {
  state.runId = runId;
  for (const tr of document.querySelectorAll("#runs tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.runId === runId);
  }
  document.getElementById("run-panel").hidden = false;
  document.getElementById("run-title").textContent = runId;
  document.getElementById("event-log").replaceChildren();
  const run = await refreshRun(runId);
  if (!run) return;
  document.getElementById("graph").replaceChildren();
  if (run.plan_id) {
    try {
      drawGraph(await api(`/api/plans/${encodeURIComponent(run.plan_id)}`));
    } catch (err) {
      say(err.message);
    }
  }
  for (const step of run.steps || []) setStatus(step.flow_index, step.status, "");
  follow(runId);
}

document.getElementById("token").value = state.token;
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = document.getElementById("token").value.trim();
  sessionStorage.setItem("ncd-token", state.token);
  loadRuns();
});
document.getElementById("refresh").addEventListener("click", loadRuns);
loadRuns();
setInterval(loadRuns, 10000);
