/**
 * The live dashboard: one self-contained HTML page (no external assets). The user pastes a JWT and a job id;
 * the page authenticates on the WebSocket server, subscribes, and shows the stage, the progress and each update.
 * @module
 */

/**
 * Renders the page; `wsUrl` is the default WebSocket URL shown in the form, else the page's host at `wsPort`
 * (default 8765).
 */
export function dashboardHtml(o: { wsUrl?: string; wsPort?: number } = {}): string {
  const config = JSON.stringify({ wsUrl: o.wsUrl ?? null, wsPort: o.wsPort ?? 8765 }).replace(
    /</g,
    "\\u003c",
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>BioGPU Stream: live jobs</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2733; background: #f4f6f8; }
  body { max-width: 860px; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; }
  form, .job { background: #fff; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; box-shadow: 0 1px 3px #0002; }
  label { display: block; margin: .4rem 0 .2rem; font-size: .85rem; color: #516070; }
  input { width: 100%; box-sizing: border-box; padding: .45rem; font: inherit; border: 1px solid #c8d0d8; border-radius: 4px; }
  button { margin-top: .7rem; padding: .45rem 1rem; font: inherit; border: 0; border-radius: 4px; background: #2364aa; color: #fff; cursor: pointer; }
  button.secondary { background: #7a8896; }
  #status { font-size: .9rem; margin: .5rem 0; }
  .bar { height: 14px; background: #e3e8ee; border-radius: 7px; overflow: hidden; margin: .5rem 0; }
  .bar > div { height: 100%; background: #3a9a5b; width: 0; transition: width .2s; }
  .job h2 { font-size: 1rem; margin: 0 0 .3rem; word-break: break-all; }
  .stage { font-weight: 600; }
  .failed .bar > div, .cancelled .bar > div { background: #c0392b; }
  ol { font-family: ui-monospace, monospace; font-size: .78rem; max-height: 220px; overflow: auto; padding-left: 1.5rem; }
</style>
</head>
<body>
<h1>BioGPU Stream: live jobs</h1>
<form id="login">
  <label for="url">WebSocket URL</label><input id="url" autocomplete="off">
  <label for="token">Token (JWT)</label><input id="token" type="password" autocomplete="off">
  <button>Connect</button> <button type="button" class="secondary" id="disconnect">Disconnect</button>
  <div id="status">Not connected</div>
</form>
<form id="watch">
  <label for="job">Job id</label><input id="job" autocomplete="off">
  <button>Subscribe</button>
</form>
<div id="jobs"></div>
<script>
"use strict";
const config = ${config};
const $ = (id) => document.getElementById(id);
const defaultUrl = (location.protocol === "https:" ? "wss://" : "ws://") + (location.hostname || "localhost") + ":" + config.wsPort;
$("url").value = config.wsUrl || defaultUrl;
let ws = null;
let pingTimer = null;
const jobs = new Map();
const lastIds = new Map();

function status(text) { $("status").textContent = text; }

function card(jobId) {
  let c = jobs.get(jobId);
  if (c) return c;
  const el = document.createElement("div");
  el.className = "job";
  el.innerHTML = '<h2></h2><div><span class="stage">waiting</span> <span class="pct"></span></div>' +
    '<div class="bar"><div></div></div><div class="msg"></div><ol reversed></ol>' +
    '<button type="button" class="cancel">Cancel job</button> <button type="button" class="secondary unsub">Unsubscribe</button>';
  el.querySelector("h2").textContent = jobId;
  el.querySelector(".cancel").onclick = () => send({ type: "cancel", job_id: jobId });
  el.querySelector(".unsub").onclick = () => { send({ type: "unsubscribe", job_id: jobId }); el.remove(); jobs.delete(jobId); };
  $("jobs").prepend(el);
  c = { el };
  jobs.set(jobId, c);
  return c;
}

function show(u, id) {
  if (!u || !u.job_id) return;
  if (id) lastIds.set(u.job_id, id);
  const c = card(u.job_id);
  c.el.className = "job " + u.stage;
  c.el.querySelector(".stage").textContent = u.stage;
  c.el.querySelector(".pct").textContent = Math.round(u.progress * 100) + "%";
  c.el.querySelector(".bar > div").style.width = (u.progress * 100) + "%";
  c.el.querySelector(".msg").textContent = u.message + (u.error_details ? " (" + JSON.stringify(u.error_details) + ")" : "");
  const li = document.createElement("li");
  li.textContent = u.timestamp + "  " + u.stage + "  " + u.progress.toFixed(3) + "  " + u.message;
  const ol = c.el.querySelector("ol");
  ol.prepend(li);
  while (ol.children.length > 200) ol.lastChild.remove();
}

function send(m) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); }

function disconnect() {
  clearInterval(pingTimer);
  pingTimer = null;
  if (ws) ws.close();
  ws = null;
}

$("login").onsubmit = (e) => {
  e.preventDefault();
  disconnect();
  status("Connecting…");
  const sock = new WebSocket($("url").value);
  ws = sock;
  sock.onopen = () => sock.send(JSON.stringify({ type: "auth", token: $("token").value.trim() }));
  sock.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "auth_success") {
      status("Connected as " + m.user_id);
      pingTimer = setInterval(() => send({ type: "ping" }), 25000);
      for (const jobId of jobs.keys()) send({ type: "subscribe", job_id: jobId, since: lastIds.get(jobId) });
    } else if (m.type === "auth_error") status("Refused: " + m.message);
    else if (m.type === "status_update" || m.type === "job_update") show(m.data, m.id);
    else if (m.type === "cancel_requested") status("Cancel requested for " + m.job_id);
    else if (m.type === "error") status("Error: " + m.message);
  };
  sock.onclose = (ev) => { if (ws === sock) { status("Disconnected (" + ev.code + (ev.reason ? ": " + ev.reason : "") + ")"); disconnect(); } };
};
$("disconnect").onclick = () => { disconnect(); status("Not connected"); };
$("watch").onsubmit = (e) => {
  e.preventDefault();
  const jobId = $("job").value.trim();
  if (!jobId) return;
  card(jobId);
  send({ type: "subscribe", job_id: jobId });
};
</script>
</body>
</html>
`;
}
