// app.js - relaydiag's dashboard page: long-polls /api/summary, draws the
// chart, the refusals, the top tables and the alerts, and asks /api/why.
//
// Every string from an event comes from the network (HELO names,
// addresses, logins): it is only ever written with textContent, never
// innerHTML, and the server's Content-Security-Policy allows no inline
// script. window.__rd records when each refusal reached the page (tests).
"use strict";

window.__rd = { version: -1, shown: {}, updates: 0 };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// A name from the events, clickable: explains that client or address.
function who(value) {
  if (!value) return el("span", null, "-");
  const a = el("a", "who", value);
  a.href = "#";
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    ask(value);
  });
  return a;
}

function hue(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h % 360;
}

function drawChart(chart) {
  const c = document.getElementById("chart");
  const g = c.getContext("2d");
  const ids = Object.keys(chart.series).sort();
  const n = chart.minutes.length;
  g.clearRect(0, 0, c.width, c.height);
  let max = 1;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (const id of ids) sum += chart.series[id][i];
    if (sum > max) max = sum;
  }
  const left = 36, bottom = c.height - 20, w = (c.width - left) / n;
  g.fillStyle = "#4a5560";
  g.font = "11px sans-serif";
  g.fillText(String(max), 4, 12);
  g.fillText("0", 4, bottom);
  for (let i = 0; i < n; i++) {
    let y = bottom;
    for (const id of ids) {
      const v = chart.series[id][i];
      if (!v) continue;
      const hgt = (v / max) * (bottom - 8);
      g.fillStyle = "hsl(" + hue(id) + ",60%,50%)";
      g.fillRect(left + i * w + 1, y - hgt, Math.max(w - 2, 1), hgt);
      y -= hgt;
    }
    if (i % 10 === 0) {
      const d = new Date(chart.minutes[i] * 1000);
      g.fillStyle = "#4a5560";
      g.fillText(d.toISOString().substring(11, 16), left + i * w, c.height - 5);
    }
  }
  const legend = document.getElementById("legend");
  clear(legend);
  for (const id of ids) {
    const li = el("li");
    const sw = el("span", "swatch");
    sw.style.background = "hsl(" + hue(id) + ",60%,50%)";
    li.appendChild(sw);
    li.appendChild(el("span", null, id));
    legend.appendChild(li);
  }
}

function drawRefusals(rows) {
  const body = document.querySelector("#refusals tbody");
  clear(body);
  const now = Date.now();
  for (const r of rows) {
    const tr = el("tr");
    tr.dataset.event = r.id || "";
    tr.appendChild(el("td", null, (r.ts || "").substring(0, 19).replace("T", " ")));
    const tdc = el("td");
    tdc.appendChild(who(r.client));
    tr.appendChild(tdc);
    tr.appendChild(el("td", "helo", r.helo));
    const tdm = el("td");
    tdm.appendChild(who(r.sender === "" ? "<>" : r.sender));
    tdm.appendChild(document.createTextNode(" → "));
    tdm.appendChild(who(r.rcpt));
    if (r.login) tdm.appendChild(el("div", "fix", "logged in as " + r.login));
    tr.appendChild(tdm);
    tr.appendChild(el("td", null, r.mta));
    const tdd = el("td");
    tdd.appendChild(el("div", "sev-" + (r.severity || "info"), r.diagnosis));
    tdd.appendChild(el("div", null, r.summary));
    tr.appendChild(tdd);
    const tdf = el("td");
    if (r.remedy_client) tdf.appendChild(el("div", "fix", "Client: " + r.remedy_client));
    if (r.remedy_admin) tdf.appendChild(el("div", "fix", "Admin: " + r.remedy_admin));
    tr.appendChild(tdf);
    body.appendChild(tr);
    if (r.id && !(r.id in window.__rd.shown)) window.__rd.shown[r.id] = now;
  }
}

function drawTop(id, rows, clickable) {
  const body = document.querySelector("#" + id + " tbody");
  clear(body);
  for (const row of rows) {
    const tr = el("tr");
    const td = el("td");
    td.appendChild(clickable ? who(row[0]) : el("span", null, row[0]));
    tr.appendChild(td);
    for (let i = 1; i < row.length; i++) tr.appendChild(el("td", "num", row[i]));
    body.appendChild(tr);
  }
}

function drawAlerts(alerts) {
  const ul = document.getElementById("alerts");
  clear(ul);
  if (!alerts.length) ul.appendChild(el("li", null, "none"));
  for (const a of alerts) {
    const li = el("li");
    li.appendChild(el("span", "sev-" + (a.severity || "info"),
      (a.ts || "").substring(0, 19).replace("T", " ") + " " + (a.diagnosis || "")));
    li.appendChild(document.createTextNode(" " + (a.summary || "")));
    if (a.clients && a.clients.length) {
      li.appendChild(document.createTextNode(" Clients: "));
      a.clients.forEach((c, i) => {
        if (i) li.appendChild(document.createTextNode(", "));
        li.appendChild(who(c));
      });
    }
    if (a.remedy_admin) li.appendChild(el("div", "fix", a.remedy_admin));
    ul.appendChild(li);
  }
}

function draw(s) {
  const st = document.getElementById("status");
  st.textContent = s.redis.ok ? "stream: connected"
    : "stream: " + (s.redis.error || "connecting…");
  st.className = "status " + (s.redis.ok ? "ok" : "bad");
  document.getElementById("totals").textContent =
    s.totals.events + " events, " + s.totals.rcpts + " recipients, " +
    s.totals.refused + " refused, " + s.totals.alerts + " alerts" +
    (s.last_event ? "; last " + s.last_event.substring(11, 19) + " UTC" : "");
  drawChart(s.chart);
  drawRefusals(s.refusals);
  drawTop("top-clients", s.top.clients, true);
  drawTop("top-senders", s.top.senders, true);
  drawTop("top-domains", s.top.domains, false);
  drawAlerts(s.alerts);
  window.__rd.version = s.version;
  window.__rd.updates++;
}

async function poll() {
  for (;;) {
    try {
      const r = await fetch("api/summary?after=" + window.__rd.version,
        { cache: "no-store", credentials: "same-origin" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      draw(await r.json());
    } catch (e) {
      const st = document.getElementById("status");
      st.textContent = "dashboard: " + e.message;
      st.className = "status bad";
      await new Promise((res) => setTimeout(res, 2000));
    }
  }
}

async function ask(q) {
  document.getElementById("why-q").value = q;
  const out = document.getElementById("why-result");
  clear(out);
  const r = await fetch("api/why?q=" + encodeURIComponent(q),
    { cache: "no-store", credentials: "same-origin" });
  const j = await r.json();
  if (!j.decisions.length) {
    out.appendChild(el("p", null, "No decision about " + q + " in the dashboard's memory."));
    return;
  }
  out.appendChild(el("p", null, j.decisions.length + " decision(s) about " + q + ", newest first:"));
  for (const d of j.decisions) {
    const div = el("div", "story" + (d.refused ? " refused" : ""));
    const dl = el("dl");
    for (const [k, v] of d.story) {
      dl.appendChild(el("dt", null, k));
      dl.appendChild(el("dd", null, v));
    }
    div.appendChild(dl);
    out.appendChild(div);
  }
}

document.getElementById("why-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = document.getElementById("why-q").value.trim();
  if (q) ask(q);
});
const hash = decodeURIComponent(location.hash.substring(1));
if (hash) ask(hash);
poll();
