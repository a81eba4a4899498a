// The fan's ticket page: sign in with the session token, pick a ticket, show its rotating entry code.
//
// Each ticket gets its own device key, made here once (non-extractable, kept in IndexedDB) and bound to the
// ticket by POST /tickets/{id}/device; the page then signs the current 15-second window and draws the QR,
// again at every new window (docs/gate.md).

import qrcode from "./vendor/qrcode.mjs";
import * as gate from "./gatecode.js";
import * as store from "./store.js";

const API = new URL("../", location.href); // the gateway's root, whatever path it is mounted under
const TOKEN_KEY = "ticketkit.fanToken";
const TICKETS_KEY = "ticketkit.fanTickets"; // {savedAt, tickets}: the list as last loaded, for no signal
const KEYS = "device-keys";
const $ = (id) => document.getElementById(id);

let token = null;
let clockOffsetMs = 0; // the gateway's clock minus this phone's, used only when the phone is far off
let tickets = []; // the fan's, as last loaded
let pass = null; // {ticket, key, window, generation}
let timer = null;
let generation = 0;

class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail && typeof body.detail === "string" ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

const now = () => Date.now() + clockOffsetMs;

function noteServerClock(response) {
  const server = Date.parse(response.headers.get("date") ?? "");
  if (Number.isNaN(server)) return;
  const offset = server - Date.now();
  // The Date header has 1 s resolution; the gate accepts one window either side. Correct only real drift.
  clockOffsetMs = Math.abs(offset) > 10_000 ? offset : 0;
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(new URL(path, API), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  noteServerClock(response);
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Shown while the page runs on the tickets kept on the phone. */
function noSignal(savedAt) {
  const when = new Date(savedAt).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  status(`No signal: showing your tickets as saved on this phone (${when}). Your code still works at the door.`,
         "offline");
  document.body.dataset.offline = "true";
}

function status(text, kind = "") {
  $("status").textContent = text;
  $("status").className = kind;
}

function show(section) {
  for (const id of ["tickets", "pass"]) $(id).hidden = id !== section;
  $("recover").hidden = section !== "sign-in";
  $("sign-in-token").hidden = section !== "sign-in";
  $("sign-out").hidden = section === "sign-in";
}

/** The session token from `#token=...` (kept, then removed from the address bar) and a `ticket=` to open. */
function readFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("token")) localStorage.setItem(TOKEN_KEY, params.get("token"));
  const ticket = params.get("ticket");
  if (params.has("token")) {
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return ticket;
}

/** The tickets kept on this phone at the last load ({savedAt, tickets}), or null. */
function keptTickets() {
  try {
    const kept = JSON.parse(localStorage.getItem(TICKETS_KEY) ?? "null");
    return kept && Array.isArray(kept.tickets) ? kept : null;
  } catch {
    return null;
  }
}

/**
 * The fan's tickets from the gateway, kept on the phone; with no network, the kept ones (a pass works with no
 * signal: its device key is in IndexedDB, its code is signed here). `offline` says which.
 */
async function loadOrKeptTickets(wanted) {
  try {
    const list = await loadTickets(wanted);
    localStorage.setItem(TICKETS_KEY, JSON.stringify({ savedAt: new Date().toISOString(), tickets: list }));
    return { list, offline: null };
  } catch (error) {
    const kept = keptTickets();
    if (error instanceof ApiError || !kept) throw error; // the gateway answered (401...), or nothing is kept
    return { list: kept.tickets, offline: kept.savedAt };
  }
}

/** The fan's tickets; `wanted` (a ticket id from the link) is fetched on its own if the list lacks it. */
async function loadTickets(wanted) {
  let list = [];
  try {
    list = await api("fans/me/tickets");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404 && error.code === "not_found")) throw error;
    // This gateway has no ticket list: only a ticket named in the link can be shown.
  }
  if (wanted && !list.some((t) => t.id === wanted)) list = [...list, await api(`tickets/${wanted}`)];
  return list;
}

function ticketLabel(ticket) {
  const tier = ticket.tier_name ?? `tier ${ticket.tier_id}`;
  const when = ticket.door?.starts_at ? ` · ${moment(ticket.door.starts_at, ticket.door, true)}` : "";
  return `${ticket.event_name ? `${ticket.event_name} · ` : ""}Ticket #${ticket.token_id} · ${tier}${when}`;
}

/** A time in the event's time zone: "Sat 4 Jul 2026, 18:00" (with `date`), else "18:00". */
function moment(iso, door, date = false) {
  const options = { timeZone: door?.timezone ?? "UTC", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (date) {
    Object.assign(options, { weekday: "short", day: "numeric", month: "short", year: "numeric",
                             timeZoneName: "short" });
  }
  return new Intl.DateTimeFormat([], options).format(new Date(iso));
}

function dayLabel(day) {
  return new Intl.DateTimeFormat([], { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" })
    .format(new Date(`${day}T12:00:00Z`));
}

/** The pass's details: when, doors, where, the seat; its check-in; the code only while it can still admit. */
function renderPass(ticket) {
  const door = ticket.door ?? {};
  $("pass-title").textContent = ticket.event_name ?? "Your ticket";
  const rows = [
    ["When", door.starts_at && moment(door.starts_at, door, true)],
    ["Doors", door.doors_at && moment(door.doors_at, door)],
    ["Where", door.venue],
    ["Seat", [door.section && `Section ${door.section}`, door.row && `Row ${door.row}`,
              door.seat && `Seat ${door.seat}`].filter(Boolean).join(" · ")],
    ["Valid on", door.entry_policy === "days" && door.entry_days.map(dayLabel).join(", ")],
    ["Ticket", `#${ticket.token_id} · ${ticket.tier_name ?? `tier ${ticket.tier_id}`}`],
  ];
  const list = $("pass-details");
  list.replaceChildren();
  for (const [name, value] of rows) {
    if (!value) continue;
    const item = document.createElement("div"); // a dl may group each term with its detail in a div
    const term = document.createElement("dt");
    term.textContent = name;
    const detail = document.createElement("dd");
    detail.textContent = value;
    item.append(term, detail);
    list.append(item);
  }
  $("back").hidden = tickets.length < 2; // one ticket: no list to go back to
  const used = Boolean(door.checked_in_at);
  const closed = used && (door.entry_policy ?? "single") === "single"; // checked in: no code to show
  $("pass-used").hidden = !used;
  $("pass-used").textContent = used
    ? `Checked in at ${moment(door.checked_in_at, door)}${door.checked_in_gate ? `, ${door.checked_in_gate}` : ""}`
    : "";
  $("pass-code").hidden = closed;
  $("pass").dataset.state = closed ? "used" : "live";
  const policy = { reentry: "Re-entry allowed: have your code scanned on the way out.",
                   days: "One entry on each day the pass is valid." }[door.entry_policy];
  $("pass-policy").hidden = !policy;
  $("pass-policy").textContent = policy ?? "";
  return closed;
}

function showList() {
  stopPass();
  const list = $("ticket-list");
  list.replaceChildren();
  for (const ticket of tickets) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = ticketLabel(ticket);
    button.dataset.ticketId = ticket.id;
    button.addEventListener("click", () => openPass(ticket));
    item.append(button);
    list.append(item);
  }
  status(tickets.length ? "" : "No tickets on this account yet (or open the link from your ticket e-mail).");
  show("tickets");
}

/** This phone's key for the ticket: created once, non-extractable, bound to the ticket on the gateway. */
async function deviceKey(ticketId, { rebind = false } = {}) {
  let record = await store.get(KEYS, ticketId);
  if (!record) {
    const pair = await gate.generateDeviceKey();
    record = { id: ticketId, privateKey: pair.privateKey, publicKey: await gate.exportPublicKey(pair.publicKey),
               bound: false, createdAt: new Date().toISOString() };
    await store.put(KEYS, record);
  }
  if (!record.bound || rebind) {
    const body = { public_key: record.publicKey };
    const bound = await api(`tickets/${ticketId}/device`, { method: "POST", body });
    record.bound = true;
    record.windowSeconds = bound.window_seconds;
    await store.put(KEYS, record);
  }
  return record;
}

async function openPass(ticket, options) {
  stopPass();
  const mine = ++generation;
  $("qr").dataset.ticketId = ticket.id;
  show("pass");
  if (renderPass(ticket)) {
    status("");
    watchTicket(ticket, mine);
    return;
  }
  status("Preparing this phone…");
  try {
    const key = await deviceKey(ticket.id, options);
    if (mine !== generation) return;
    pass = { ticket, key, window: null, generation: mine };
    status("");
    await tick();
    timer = setInterval(tick, 250);
    keepScreenOn();
    watchTicket(ticket, mine);
  } catch (error) {
    status(`Could not prepare the code: ${error.message}`, "error");
  }
}

function stopPass() {
  clearInterval(timer);
  clearInterval(watcher);
  timer = null;
  watcher = null;
  pass = null;
  generation++;
  releaseScreen();
}

let watcher = null;
const WATCH_MS = 10_000;

/** While the pass is open and online, its check-in shows within WATCH_MS (then the code goes). */
function watchTicket(ticket, mine) {
  clearInterval(watcher);
  watcher = setInterval(async () => {
    if (mine !== generation || !navigator.onLine || document.visibilityState !== "visible") return;
    try {
      const fresh = await api(`tickets/${ticket.id}`);
      if (mine !== generation) return;
      const before = JSON.stringify(ticket.door ?? null);
      if (JSON.stringify(fresh.door ?? null) === before) return;
      tickets = tickets.map((t) => (t.id === fresh.id ? fresh : t));
      localStorage.setItem(TICKETS_KEY, JSON.stringify({ savedAt: new Date().toISOString(), tickets }));
      if (renderPass(fresh)) {
        clearInterval(timer);
        timer = null;
        pass = null;
        releaseScreen();
      }
      ticket = fresh;
    } catch {
      // no signal now: the pass keeps showing what it knows
    }
  }, WATCH_MS);
}

let signing = false;

async function tick() {
  if (!pass || signing) return;
  const moment = now();
  const seconds = pass.key.windowSeconds ?? gate.WINDOW_SECONDS;
  const left = gate.msLeftInWindow(moment, seconds);
  $("countdown-bar").style.width = `${(100 * left) / (seconds * 1000)}%`;
  $("countdown-text").textContent = `New code in ${Math.ceil(left / 1000)} s`;
  const w = gate.windowAt(moment, seconds);
  if (w === pass.window) return;
  const current = pass;
  signing = true;
  try {
    const code = await gate.makeCode(current.key.privateKey, current.ticket.id, w);
    if (current.generation !== generation) return;
    drawCode(code, w);
    current.window = w;
  } catch (error) {
    status(`Could not sign the code: ${error.message}`, "error");
  } finally {
    signing = false;
  }
}

function drawCode(code, w) {
  const qr = qrcode(0, "M");
  qr.addData(code, "Byte");
  qr.make();
  const quiet = 4;
  const modules = qr.getModuleCount();
  const scale = Math.max(4, Math.floor(640 / (modules + 2 * quiet)));
  const canvas = $("qr");
  canvas.width = canvas.height = (modules + 2 * quiet) * scale;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#000";
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (qr.isDark(row, col)) ctx.fillRect((col + quiet) * scale, (row + quiet) * scale, scale, scale);
    }
  }
  canvas.dataset.code = code;
  canvas.dataset.window = String(w);
}

let wakeLock = null;

/** The screen stays on while a live code shows, where the browser allows (Screen Wake Lock API). */
async function keepScreenOn() {
  if (!pass || wakeLock) return;
  try {
    wakeLock = await navigator.wakeLock?.request("screen") ?? null;
    wakeLock?.addEventListener("release", () => { wakeLock = null; document.body.dataset.awake = "false"; });
    document.body.dataset.awake = String(Boolean(wakeLock));
  } catch {
    document.body.dataset.awake = "false"; // not allowed here (hidden page, low battery): the code still works
  }
}

function releaseScreen() {
  wakeLock?.release().catch(() => {});
  wakeLock = null;
}

function signOut() {
  stopPass();
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TICKETS_KEY);
  token = null;
  status("");
  show("sign-in");
}

async function start() {
  const wanted = readFragment();
  token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    show("sign-in");
    return;
  }
  status("Loading your tickets…");
  try {
    const { list, offline } = await loadOrKeptTickets(wanted);
    tickets = list;
    const chosen = tickets.find((t) => t.id === wanted) ?? (tickets.length === 1 ? tickets[0] : null);
    delete document.body.dataset.offline;
    showList();
    if (chosen) await openPass(chosen);
    if (offline && $("status").className !== "error") noSignal(offline);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut();
      status(error.code === "session_expired"
        ? "You were signed out after a long time away. Sign in again with your recovery code."
        : "That sign-in did not work. Use your recovery code.", "error");
    } else {
      status(`Could not load your tickets: ${error.message}`, "error");
    }
  }
}

$("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("token").value.trim());
  start();
});
$("recover").addEventListener("submit", async (event) => {
  event.preventDefault();
  status("Signing in…");
  try {
    const response = await fetch(new URL("fans/recover", API), {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ recovery_code: $("recovery-code").value.trim() }),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    localStorage.setItem(TOKEN_KEY, data.session_token);
    $("recovery-code").value = "";
    $("new-code-value").textContent = data.recovery_code;
    $("new-code").hidden = false;
    await start();
  } catch (error) {
    status(error instanceof ApiError && error.status === 401
      ? "That recovery code does not work (each code works once: use the newest one)."
      : `Could not sign in: ${error.message}`, "error");
  }
});
$("new-code-saved").addEventListener("click", () => {
  $("new-code-value").textContent = "";
  $("new-code").hidden = true;
});
$("sign-out").addEventListener("click", () => $("confirm-sign-out").showModal());
$("sign-out-cancel").addEventListener("click", () => $("confirm-sign-out").close());
$("sign-out-ok").addEventListener("click", () => {
  $("confirm-sign-out").close();
  signOut();
});
$("back").addEventListener("click", () => showList());
$("rebind").addEventListener("click", () => pass && openPass(pass.ticket, { rebind: true }));
window.addEventListener("online", () => document.body.dataset.offline && start()); // the signal is back
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  tick();
  keepScreenOn(); // a wake lock is released when the page is hidden: take it again
});
navigator.serviceWorker?.register("sw.js", { scope: "./" }).catch(() => {});
start();
