// ncd-run serve: a read-only page. Lists runs (GET /api/runs), shows one run's plan as a graph
// (GET /api/plans/{id}) with per-step statuses (GET /api/runs/{id}) kept live by the run's event stream
// (GET /api/runs/{id}/events, text/event-stream). The stream is read with fetch() so that the bearer token
// travels in the Authorization header, never in a URL. Every text from the server is set with textContent.
// `attempt` events report steps starting (running), result events report steps finishing; the run itself
// (GET /api/runs/{id}) is read when it is opened, for its counts after each result, and at its end.
//
// Stable hooks: #runs tbody tr[data-run-id][data-status]; #run-status[data-status]; graph nodes
// #graph g.node[data-flow-index][data-status]; #event-log li (newest first).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const RETRY_MS = 2000;
const state = { token: sessionStorage.getItem("ncd-token") || "", runId: null, stream: null, nodes: new Map(),
                seq: 0, refreshTimer: null };

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
    const st = run.queued ? "queued" : run.status;
    tr.dataset.runId = run.run_id;
    tr.dataset.status = st;
    if (run.run_id === state.runId) tr.classList.add("selected");
    cell(tr, run.run_id);
    cell(tr, run.plan_id || "?");
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
    const g = svgEl("g", { class: "node", transform: `translate(${p.x},${p.y})` }, svg);
    g.dataset.flowIndex = n.flow_index;
    g.dataset.status = "pending";
    const rect = svgEl("rect", { width: W, height: H, class: "pending" }, g);
    const title = svgEl("title", {}, g);
    title.textContent = `${n.flow_index} ${n.sequence}\n${n.label}\n${n.function || ""}`;
    const t1 = svgEl("text", { x: 6, y: 16 }, g);
    t1.textContent = `${n.flow_index} ${n.sequence}`;
    const t2 = svgEl("text", { x: 6, y: 32 }, g);
    t2.textContent = (n.label || "").slice(0, 30);
    state.nodes.set(n.flow_index, { g, rect, title, base: title.textContent, count: 0, seq: 0 });
  }
}

function setStatus(flowIndex, status, iteration) {
  const node = state.nodes.get(flowIndex);
  if (!node) return null;
  node.rect.setAttribute("class", status);
  node.g.dataset.status = status;
  if (iteration) node.count += 1;
  node.title.textContent = node.base + `\nstatus: ${status}` + (node.count ? ` (${node.count} iterations)` : "");
  return node;
}

// The run's own view of its steps (it knows which are running). ``issued``: how many events had arrived when it
// was asked for; a node an event changed since then keeps the event's status, which is at least as new.
function applySteps(run, issued) {
  for (const step of run.steps || []) {
    const node = state.nodes.get(step.flow_index);
    if (node && node.seq <= issued) setStatus(step.flow_index, step.status, "");
  }
}

function logEvent(text) {
  const li = document.createElement("li");
  li.textContent = text;
  const ol = document.getElementById("event-log");
  ol.insertBefore(li, ol.firstChild);
  while (ol.children.length > 200) ol.removeChild(ol.lastChild);
}

function summarize(run) {
  const st = run.queued ? "queued" : run.status;
  const badge = document.getElementById("run-status");
  badge.className = "st " + st;
  badge.dataset.status = st;
  badge.textContent = st;
  const counts = Object.entries(run.counts || {}).map(([k, v]) => `${v} ${k}`).join(", ");
  document.getElementById("run-summary").textContent =
    `plan ${run.plan_id || "?"} · ${counts || "no steps yet"}` +
    (run.parent_run_id ? ` · fork of ${run.parent_run_id}@${run.parent_seq}` : "");
}

function scheduleRefresh(runId, delay) {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshRun(runId), delay);
}

async function refreshRun(runId) {
  const issued = state.seq;
  let run;
  try {
    run = await api(`/api/runs/${encodeURIComponent(runId)}`);
  } catch (err) {
    if (runId === state.runId) say(err.message);
    return null;
  }
  if (runId !== state.runId) return null;
  summarize(run);
  applySteps(run, issued);
  return run;
}

// Server-sent events over fetch: "id:", "event:" and "data:" lines, events separated by a blank line. A stream
// that breaks before its end event is opened again with Last-Event-ID, so it goes on after the last event seen.
async function follow(runId) {
  if (state.stream) state.stream.abort();
  const ctrl = new AbortController();
  state.stream = ctrl;
  const url = `/api/runs/${encodeURIComponent(runId)}/events`;
  document.getElementById("events-url").textContent = url;
  let lastId = "";
  while (!ctrl.signal.aborted) {
    const extra = lastId ? { "Last-Event-ID": lastId } : {};
    if (await readStream(runId, url, ctrl, extra, (id) => { lastId = id; })) return;
    if (ctrl.signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

// One connection; true when the stream is over for good (its end event, or an answer that is not a stream).
async function readStream(runId, url, ctrl, extra, seen) {
  let resp;
  try {
    resp = await fetch(url, { headers: { ...headers(), ...extra, Accept: "text/event-stream" }, signal: ctrl.signal });
  } catch (err) {
    return false;
  }
  if (!resp.ok || !resp.body) {
    const body = await resp.json().catch(() => ({}));
    if (runId === state.runId) say((body.error && body.error.message) || `events: ${resp.status} ${resp.statusText}`);
    return true;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      return false;
    }
    if (chunk.done) return false;
    buf += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let type = "message", data = "", id = null;
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
        else if (line.startsWith("id:")) id = line.slice(3).trim();
      }
      if (!data || runId !== state.runId) continue;
      let ev;
      try {
        ev = JSON.parse(data);
      } catch (err) {
        continue;
      }
      if (id !== null) seen(id);
      if (type === "end") {
        logEvent(`end: ${ev.status}`);
        clearTimeout(state.refreshTimer);
        refreshRun(runId);
        loadRuns();
        return true;
      }
      if (type === "attempt") {  // a step started (or an attempt failed and is retried): it is running
        const node = state.nodes.get(ev.flow_index);
        if (node && ev.status === "running") {
          state.seq += 1;
          setStatus(ev.flow_index, "running", "");
          node.seq = state.seq;
        }
        continue;
      }
      if (ev.kind === "item") {
        state.seq += 1;
        const node = setStatus(ev.flow_index, ev.status, ev.iteration);
        if (node) node.seq = state.seq;
        logEvent(`#${ev.n} ${ev.flow_index}${ev.iteration ? " [" + ev.iteration + "]" : ""} ${ev.status} ` +
                 (ev.concept || ""));
        scheduleRefresh(runId, 150);  // the counts of the summary
      }
    }
  }
}

async function showRun(runId) {
  state.runId = runId;
  if (state.stream) state.stream.abort();
  clearTimeout(state.refreshTimer);
  for (const tr of document.querySelectorAll("#runs tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.runId === runId);
  }
  document.getElementById("run-panel").hidden = false;
  document.getElementById("run-title").textContent = runId;
  document.getElementById("event-log").replaceChildren();
  document.getElementById("graph").replaceChildren();
  state.nodes = new Map();
  const run = await refreshRun(runId);
  if (!run) return;
  let plan = null;
  if (run.plan_id) {
    try {
      plan = await api(`/api/plans/${encodeURIComponent(run.plan_id)}`);
    } catch (err) {
      say(err.message);
    }
  }
  if (runId !== state.runId) return;  // another run was chosen meanwhile
  if (plan) drawGraph(plan);
  applySteps(run, state.seq);
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
