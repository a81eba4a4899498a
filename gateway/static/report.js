// The organiser's live doors dashboard (/events/{id}/report/view): signs in with the organiser API key (kept in
// sessionStorage, sent only as an Authorization header), polls the JSON report every few seconds and draws it with
// uPlot (window.uPlot, vendored), on time axes in the event's time zone. No data is in the page itself.
"use strict";

const STORE = "ticketkit-organiser-key";
const REFRESH_MS = 5000;
const PALETTE = ["#1f6fb4", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5f3dc4", "#a61e4d", "#495057"];
const $ = (id) => document.getElementById(id);
const reportUrl = (query = "") => new URL("../report" + query, location.href);

let key = sessionStorage.getItem(STORE) || "";
let timer = null;
let busy = false;
const charts = {}; // id -> {plot, signature}

// ---- formatting
function eth(wei) {
  if (wei === null || wei === undefined) return "unknown";
  const value = BigInt(wei), unit = 10n ** 18n;
  const whole = value / unit, fraction = (value % unit).toString().padStart(18, "0").slice(0, 4).replace(/0+$/, "");
  return (fraction ? `${whole}.${fraction}` : `${whole}`) + " ETH";
}
const pct = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%");
const seconds = (iso) => Date.parse(iso) / 1000;
function localTime(iso, tz) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("en-GB", {timeZone: tz, dateStyle: "medium", timeStyle: "short"}).format(new Date(iso));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

function table(container, caption, head, rows, numeric = []) {
  const t = el("table", {}, el("caption", {}, caption));
  const thead = el("tr");
  head.forEach((h, i) => thead.append(el("th", {scope: "col", class: numeric.includes(i) ? "n" : ""}, h)));
  t.append(el("thead", {}, thead));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    row.forEach((v, i) => tr.append(el("td", {class: numeric.includes(i) ? "n" : ""}, v)));
    body.append(tr);
  }
  if (!rows.length) body.append(el("tr", {}, el("td", {colspan: head.length}, "None yet.")));
  t.append(body);
  $(container).replaceChildren(el("div", {class: "wrap"}, t));
}

// ---- charts
const TIME = uPlot.fmtDate("{HH}:{mm}");
const DAY_TIME = uPlot.fmtDate("{D} {MMM} {HH}:{mm}");
// Per-minute (or per-bucket) counts of several series, drawn as stacked bars: series i is drawn at the sum of
// series i..n, largest first, so each shows as its own band; the legend shows each series' own count.
function stacked(times, names, values) {
  const sums = names.map((_, i) => times.map((__, j) => values.slice(i).reduce((s, v) => s + (v[j] || 0), 0)));
  return {data: [times, ...sums], raw: values};
}

function draw(id, {title, tz, times, names, values, yLabel, step, points = false, capLine = false}) {
  const box = $(id);
  box.setAttribute("aria-label", title);
  if (!times.length) {
    if (charts[id]) { charts[id].plot.destroy(); delete charts[id]; }
    box.replaceChildren(el("p", {class: "meta"}, "Nothing to show yet."));
    return;
  }
  const {data, raw} = points ? {data: [times, ...values], raw: values} : stacked(times, names, values);
  if (capLine) { data.push(times.map(() => 100)); }
  const signature = JSON.stringify([names, tz, capLine]);
  const width = Math.max(280, box.clientWidth || 600);
  const height = width < 600 ? 220 : 280;
  // The x range from the data itself, half a step either side (uPlot widens a single point by a day of
  // milliseconds, which is 1,000 days of our seconds).
  const span = [times[0] - step, times[times.length - 1] + step];
  if (charts[id] && charts[id].signature === signature) {
    Object.assign(charts[id], {raw, span});
    charts[id].plot.setData(data);
    return;
  }
  if (charts[id]) charts[id].plot.destroy();
  box.replaceChildren();
  const entry = {signature, raw, span};
  const bars = uPlot.paths.bars({size: [0.8, 40], align: 0});
  const series = [{label: `Time (${tz})`, value: (u, v) => (v == null ? "" : uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}")(uPlot.tzDate(new Date(v * 1e3), tz)))}];
  names.forEach((name, i) => series.push(points
    ? {label: name, stroke: PALETTE[i % PALETTE.length], paths: () => null, points: {show: true, size: 10, fill: PALETTE[i % PALETTE.length]},
       value: (u, v) => (v == null ? "–" : v.toFixed(1) + "%")}
    : {label: name, stroke: PALETTE[i % PALETTE.length], fill: PALETTE[i % PALETTE.length], paths: bars, points: {show: false},
       value: (u, v, si, idx) => (idx == null ? "–" : String(entry.raw[si - 1][idx] ?? 0))}));
  if (capLine) series.push({label: "cap", stroke: "#c92a2a", dash: [8, 6], width: 2, points: {show: false}, value: () => "100%"});
  const opts = {
    width, height, title: undefined,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
    scales: {x: {time: true, range: () => entry.span},
             y: {range: (u, min, max) => [0, Math.max(points ? 110 : 1, max * 1.1)]}},
    axes: [
      {label: `Time (${tz})`, labelSize: 24, font: "14px system-ui", labelFont: "bold 14px system-ui", stroke: "#333",
       incrs: [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000],
       values: (u, splits) => {
         const wide = u.scales.x.max - u.scales.x.min > 86400;
         const format = wide ? DAY_TIME : TIME;
         return splits.map((v) => format(uPlot.tzDate(new Date(v * 1e3), tz)));
       }},
      {label: yLabel, labelSize: 28, font: "14px system-ui", labelFont: "bold 14px system-ui", stroke: "#333",
       values: (u, splits) => splits.map((v) => (points ? v + "%" : Number.isInteger(v) ? String(v) : "")),
       incrs: points ? [10, 20, 25, 50, 100] : [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]},
    ],
    series,
    legend: {live: true},
  };
  entry.plot = new uPlot(opts, data, box);
  charts[id] = entry;
}

// Gather rows of (time, series, count) into uPlot columns: sorted times, one array of counts per series.
function columns(rows, timeOf, seriesOf, countOf, order) {
  const times = [...new Set(rows.map(timeOf))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const names = order.filter((n) => rows.some((r) => seriesOf(r) === n));
  const values = names.map(() => times.map(() => 0));
  for (const r of rows) values[names.indexOf(seriesOf(r))][index.get(timeOf(r))] += countOf(r);
  return {times, names, values};
}

// ---- the page
function show(report) {
  const tz = report.timezone || "UTC";
  $("title").textContent = `Doors: ${report.event_name || report.event_id}`;
  document.title = `Doors: ${report.event_name || "event"}`;
  $("signin").hidden = true;
  $("dashboard").hidden = false;
  const a = report.attendance, r = report.revenue, q = report.queue;
  const tiles = [
    ["tickets", "tickets (not refunded)", a.tickets], ["checked_in", "checked in", a.checked_in],
    ["rate", "attendance", pct(a.rate)], ["no_shows", "not checked in", a.no_shows],
    ["refusals", "refusals", report.refusals.total], ["conflicts", "gate conflicts", a.conflicts],
    ["queue", "waiting for the chain", `${q.waiting} (${Math.round(q.lag_seconds || 0)} s)`],
    ["primary", "primary revenue", eth(r.primary_wei)], ["royalties", "resale royalties", eth(r.royalties_wei)],
    ["resales", "resales", report.resale.sold], ["volume", "resale volume", eth(report.resale.volume_wei)],
  ];
  $("tiles").replaceChildren(...tiles.map(([metric, label, value]) =>
    el("div", {class: "tile", "data-metric": metric}, el("dt", {}, label), el("dd", {}, value))));

  const gateName = (g) => g.gate_label || (g.gate === "on_chain" ? "on chain" : `gate ${g.gate.slice(0, 8)}`);
  const gateOrder = report.checkins.gates.map(gateName);
  const timed = report.checkins.rows.filter((row) => row.minute);
  draw("chart-checkins", {title: "Check-ins per minute, by gate", tz, yLabel: "check-ins / minute", step: 60,
    ...columns(timed, (row) => seconds(row.minute), gateName, (row) => row.count, gateOrder)});
  table("table-gates", "Check-ins per gate", ["gate", "check-ins"], report.checkins.gates.map((g) => [gateName(g), g.count]), [1]);

  const reasons = report.refusals.reasons.map((x) => x.reason);
  draw("chart-refusals", {title: "Refusals per minute, by reason", tz, yLabel: "refusals / minute", step: 60,
    ...columns(report.refusals.rows, (row) => seconds(row.minute), (row) => row.reason, (row) => row.count, reasons)});
  table("table-reasons", "Refusals by reason", ["reason", "refusals"], report.refusals.reasons.map((x) => [x.reason, x.count]), [1]);

  const tierName = (t) => t.tier_name || `tier ${t.tier_id}`;
  table("table-tiers", "Sold against supply, checked in and primary revenue per tier",
    ["tier", "sold / supply", "checked in", "refunded", "revenue"],
    report.sales.tiers.map((t) => [tierName(t), `${t.total} / ${t.supply ?? "?"}`, t.checked_in, t.refunded, eth(t.revenue_wei)]),
    [1, 2, 3, 4]);
  const bucketSeconds = {hour: 3600, day: 86400, week: 604800}[report.sales.bucket];
  draw("chart-sales", {title: `Tickets sold per ${report.sales.bucket}, by tier`, tz, yLabel: `sold / ${report.sales.bucket}`,
    step: bucketSeconds, ...columns(report.sales.rows, (row) => seconds(row.bucket), tierName, (row) => row.total,
                                    report.sales.tiers.map(tierName))});

  const capped = report.resale.sales.filter((s) => s.ratio !== null && s.sold_at);
  draw("chart-resale", {title: "Resale prices as a percent of the cap", tz, yLabel: "% of the cap", step: 60, points: true,
    capLine: true, times: capped.map((s) => seconds(s.sold_at)), names: ["price"],
    values: [capped.map((s) => Math.round(s.ratio * 1000) / 10)]});
  table("table-resale", "Resales", ["sold", "channel", "token", "price", "cap", "% of cap"],
    report.resale.sales.map((s) => [localTime(s.sold_at, tz), s.channel, s.token_id, eth(s.price_wei),
                                    s.cap_wei === null ? "–" : eth(s.cap_wei), pct(s.ratio)]), [2, 3, 4, 5]);

  const at = localTime(report.generated_at, tz);
  $("status").textContent = `Updated ${at} (${tz}); refreshes every ${REFRESH_MS / 1000} s.`;
  $("status").dataset.generatedAt = report.generated_at;
}

function signOut(message) {
  clearInterval(timer);
  timer = null;
  key = "";
  sessionStorage.removeItem(STORE);
  $("dashboard").hidden = true;
  $("signin").hidden = false;
  $("message").textContent = message || "";
  $("status").textContent = "Sign in with the organiser API key.";
}

async function refresh() {
  if (busy || !key || document.hidden) return;
  busy = true;
  try {
    const response = await fetch(reportUrl(), {headers: {Authorization: "Bearer " + key}, cache: "no-store", credentials: "omit"});
    if (response.status === 401) {
      signOut("That key was not accepted. Use the organiser API key (it starts with tko_) shown when the organiser " +
              "was created; a gate key or a revoked key does not open the dashboard.");
      return;
    }
    if (response.status === 404) {
      signOut("This key's organiser has no such event. Check the address, or sign in with the key of the organiser who registered it.");
      return;
    }
    if (!response.ok) {
      $("status").textContent = `The gateway answered ${response.status}; trying again in ${REFRESH_MS / 1000} s.`;
      return;
    }
    sessionStorage.setItem(STORE, key);
    $("message").textContent = "";
    show(await response.json());
  } catch (error) {
    $("status").textContent = `The gateway did not answer; trying again in ${REFRESH_MS / 1000} s.`;
  } finally {
    busy = false;
  }
}

function start() {
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
  refresh();
}

async function download(format) {
  const url = format === "csv" ? new URL("../report.csv", location.href) : reportUrl("?attendees=true");
  const response = await fetch(url, {headers: {Authorization: "Bearer " + key}, cache: "no-store", credentials: "omit"});
  if (!response.ok) { $("message").textContent = `The export failed (${response.status}).`; return; }
  const link = el("a", {href: URL.createObjectURL(await response.blob()), download: `report.${format}`});
  document.body.append(link);
  link.click();
  link.remove();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  key = $("key").value.trim();
  $("message").textContent = "";
  start();
});
$("signout").addEventListener("click", () => signOut("Signed out."));
$("export-csv").addEventListener("click", () => download("csv"));
$("export-json").addEventListener("click", () => download("json"));
document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
new ResizeObserver(() => {
  for (const [id, entry] of Object.entries(charts)) {
    const width = Math.max(280, $(id).clientWidth);
    if (Math.abs(width - entry.plot.width) > 8) entry.plot.setSize({width, height: width < 600 ? 220 : 280});
  }
}).observe(document.body);
if (key) start();
