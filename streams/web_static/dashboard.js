// Polls /dashboard/data every second and renders it with textContent only (no innerHTML:
// item ids and reasons come from the stream and are never trusted as markup).
"use strict";

const POLL_MS = 1000;

function fmt(value, digits) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US", {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
}

function pct(value) {
  return value === null || value === undefined ? "–" : (100 * value).toFixed(1) + " %";
}

function setMetric(name, text) {
  for (const el of document.querySelectorAll(`[data-metric="${name}"]`)) el.textContent = text;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  return tr;
}

function fillTable(id, rows, emptyText) {
  const body = document.getElementById(id);
  const children = rows.length ? rows.map(row) : [row([emptyText])];
  body.replaceChildren(...children);
}

function renderRecent(recent) {
  const list = document.getElementById("recent");
  const items = recent.map((rec) => {
    const li = document.createElement("li");
    const head = document.createElement("div");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = rec.user;
    head.append(who, ` · ${rec.variant} · after ${rec.trigger} · ${rec.generated_at}`);
    const detail = document.createElement("div");
    detail.className = "items";
    rec.items.forEach((item, index) => {
      const name = document.createElement("span");
      name.textContent = item.item_id;
      detail.append(index ? " · " : "", name, ` (${item.domain}: ${item.reason})`);
    });
    li.append(head, detail);
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.textContent = "no recommendation served yet";
    items.push(li);
  }
  list.replaceChildren(...items);
}

function render(data) {
  for (const [name, value] of Object.entries(data.rates)) setMetric(`rate.${name}`, fmt(value, 1));
  for (const [name, value] of Object.entries(data.totals)) setMetric(`total.${name}`, fmt(value, 0));

  const sink = document.getElementById("sink");
  sink.textContent = data.sink;
  sink.className = `badge ${data.sink}`;

  document.getElementById("window-note").textContent = `(last ${data.window_s} s)`;
  fillTable("latency", Object.entries(data.latency).map(([stage, l]) =>
    [stage, fmt(l.p50_ms, 3), fmt(l.p99_ms, 3), fmt(l.count, 0)]), "no samples yet");
  fillTable("lag", Object.entries(data.lag).map(([topic, lag]) => [topic, fmt(lag, 0)]),
    "not measured yet");
  fillTable("dead-letters", Object.entries(data.dead_letters).map(([code, n]) =>
    [code, fmt(n, 0)]), "none");
  fillTable("variants", data.variants.map((v) => [
    v.variant, pct(v.hit_rate), fmt(v.hit_opportunities, 0), pct(v.ctr),
    fmt(v.labelled_impressions, 0), fmt(v.ctr_logloss, 3), fmt(v.conversion_proxy, 3),
  ]), "no variants");
  renderRecent(data.recent);

  const stamp = new Date(data.generated_at * 1000).toISOString().replace("T", " ").slice(0, 19);
  document.getElementById("updated").textContent = `updated ${stamp} UTC`;
  document.body.classList.remove("stale");
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
}

async function poll() {
  try {
    const response = await fetch("/dashboard/data", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (error) {
    document.body.classList.add("stale");
    document.getElementById("updated").textContent = `worker unreachable (${error.message})`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
