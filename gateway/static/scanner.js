// The gate scanner: camera frames -> jsQR -> POST /gate/scan -> a full-screen green ADMIT or red REFUSED.
//
// With no network it decides from the event's signed snapshot (offline.js), keeps its admissions here and
// sends them with POST /gate/sync once the network is back. Kept in localStorage (one gate, one event):
// the gate key, this device's name, the last verified snapshot with its key, the tickets admitted here, and
// the admissions not yet synced.

import { Local, Snapshot, dayOf, verifySnapshot } from "./offline.js";
import * as store from "./store.js";

const API = new URL("../", location.href); // the gateway's root, whatever path it is mounted under
const STORE = {
  key: "ticketkit.gate.key",
  device: "ticketkit.gate.device",
  snapshot: "ticketkit.gate.snapshot", // an earlier page's place for the list (now IndexedDB, gate-lists "list")
  records: "ticketkit.gate.records", // [{ticket_id, direction, day, at, nonce}]: this gate's entries and exits
  pending: "ticketkit.gate.pending",
  counts: "ticketkit.gate.counts", // {admitted, refused}: this steward's, on this device
  direction: "ticketkit.gate.direction",
};
const OLD_STORE = ["ticketkit.gate.admitted"]; // an earlier page's: a set of ticket ids
const ANSWER_MS = 2000; // an answer stays up this long, and the same code is not taken again before it ends
const MIN_ANSWER_MS = 800; // a different code may replace an answer after this long
const FRAME_MS = 120;
const REQUEST_MS = 4000; // longer than this and the gate decides offline
const RETRY_AFTER_MS = 300; // a scan that failed fast (not a timeout) is tried again once, if time is left
const SNAPSHOT_MS = 30_000; // a refresh while online: a delta since the list's cursor
const MAX_DELTAS = 40; // more kept deltas than this: the next refresh takes the whole list again
const SYNC_MS = 5_000;
const MAX_CODE = 512;

const REASONS = {
  malformed_code: "Not a ticket code",
  unknown_ticket: "Unknown ticket",
  wrong_event: "Ticket for another event",
  not_in_list: (age) => `Not in this gate's list (list ${age} old): ask the fan to try again when online`,
  no_device_key: "Ticket not set up on a phone: the fan opens the ticket page once",
  bad_signature: "Code not signed by the ticket's phone",
  expired_code: "Old code (screenshot?)",
  not_owner: "Ticket has changed hands: the new holder must open it",
  no_exit: "This event has no re-entry: no exit scan",
  not_inside: "Not inside: no entry to exit from",
  not_valid_today: "This pass is not valid today",
  already_checked_in: "Already checked in",
  cancelled: "Cancelled",
  update_scanner: "Reload this page: the gateway has newer rules",
  no_snapshot: "Offline and no list yet: cannot check",
  gate_key_refused: "Gate key refused: check the key",
};
const ALREADY = { reentry: "Already inside: no exit scanned since the last entry", days: "Already entered today" };

const $ = (id) => document.getElementById(id);
const load = (name, fallback) => JSON.parse(localStorage.getItem(name) ?? "null") ?? fallback;
const save = (name, value) => localStorage.setItem(name, JSON.stringify(value));

let gateKey = localStorage.getItem(STORE.key);
let device = localStorage.getItem(STORE.device);
let snapshot = null; // Snapshot
let snapshotAt = null;
let records = load(STORE.records, []);
let pending = load(STORE.pending, []); // [{code, scanned_at, ticket_id, nonce, direction}]
let counts = load(STORE.counts, { admitted: 0, refused: 0 });
let direction = localStorage.getItem(STORE.direction) === "exit" ? "exit" : "entry";
let audio = null; // an AudioContext, made at "Start scanning" (browsers allow sound after a tap)
let last = { code: null, at: 0 };
let deciding = false;
let syncing = false;
let hideTimer = null;
const frame = document.createElement("canvas").getContext("2d", { willReadFrequently: true });

/** The network is out of reach: decide offline. */
class Unreachable extends Error {}

class Refused extends Error {
  constructor(status, body) {
    super(body?.detail && typeof body.detail === "string" ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

async function call(path, body, timeoutMs = REQUEST_MS) {
  if (!navigator.onLine) throw new Unreachable("offline");
  const headers = { Authorization: `Bearer ${gateKey}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(new URL(path, API), {
      method: body === undefined ? "GET" : "POST", headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new Unreachable(error.message);
  }
  if (response.status >= 500) throw new Unreachable(`HTTP ${response.status}`);
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Refused(response.status, data);
  return data;
}

// ---- the snapshot: a signed list and the signed deltas since, kept in IndexedDB, each verified when used
const LIST = "gate-lists";
let kept = null; // {id: "list", snapshot: {payload, signature}, deltas: [{payload, signature}], publicKey, fetchedAt}

async function useSnapshot(stored) {
  if (!stored || !(await verifySnapshot(stored.snapshot, stored.publicKey))) return false;
  const taken = new Snapshot(JSON.parse(stored.snapshot.payload));
  for (const delta of stored.deltas ?? []) {
    if (!(await verifySnapshot(delta, stored.publicKey))) return false;
    taken.merge(JSON.parse(delta.payload));
  }
  snapshot = taken;
  snapshotAt = stored.fetchedAt;
  kept = stored;
  // The list has what reached the gateway before it was made: keep only this gate's newer or unsent records.
  const waiting = new Set(pending.map((p) => p.nonce));
  records = records.filter((r) => waiting.has(r.nonce) || r.at > snapshot.data.generated_at * 1000);
  save(STORE.records, records);
  return true;
}

/** This gate's own entries and exits the list does not have yet. */
function local() {
  return new Local(records);
}

async function keptList() {
  const stored = await store.get(LIST, "list").catch(() => null);
  if (stored) return stored;
  const old = load(STORE.snapshot, null); // an earlier page's, in localStorage: moved once
  localStorage.removeItem(STORE.snapshot);
  return old ? { id: "list", deltas: [], ...old } : null;
}

async function refreshSnapshot() {
  if (!gateKey) return;
  try {
    const { public_key: publicKey } = await call("gate/snapshot-key");
    const cursor = kept?.publicKey === publicKey && (kept.deltas?.length ?? 0) < MAX_DELTAS
      ? snapshot?.data.cursor : null;
    const fresh = await call(cursor ? `gate/snapshot?since=${encodeURIComponent(cursor)}` : "gate/snapshot");
    const signed = { payload: fresh.payload, signature: fresh.signature };
    const kind = JSON.parse(fresh.payload).kind ?? "full";
    const stored = kind === "delta"
      ? { ...kept, deltas: [...(kept.deltas ?? []), signed], fetchedAt: new Date().toISOString() }
      : { id: "list", snapshot: signed, deltas: [], publicKey, fetchedAt: new Date().toISOString() };
    if (!(await useSnapshot(stored))) {
      status("The list's signature does not verify: offline checks use the previous one.", "error");
      return;
    }
    await store.put(LIST, stored);
  } catch (error) {
    if (error instanceof Refused) {
      status(error.status === 401 || error.status === 403
        ? "This gate key is not accepted (unknown, revoked, or not a gate key): change the key."
        : `The gateway refused the list: ${error.message}`, "error");
    }
    // Unreachable: keep the one we have
  } finally {
    renderBar();
  }
}

// ---- deciding
/** The gate's id of one decision (docs/gate.md: scan `nonce`, ≤ 64 characters): 32 hex digits. */
function newNonce() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * POST /gate/scan for one decision, tried again once after a fast failure. Every try carries the decision's
 * nonce: if an earlier try admitted the ticket but its answer was lost, the gateway answers `admit` again.
 */
async function scanOnline(code, nonce, way) {
  const deadline = performance.now() + REQUEST_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call("gate/scan", { code, device, nonce, direction: way },
                        Math.max(1, deadline - performance.now()));
    } catch (error) {
      const timeLeft = deadline - performance.now();
      if (!(error instanceof Unreachable) || !navigator.onLine || attempt >= 2 || timeLeft < 2 * RETRY_AFTER_MS) {
        throw error;
      }
    }
    await new Promise((done) => setTimeout(done, RETRY_AFTER_MS));
  }
}

async function decide(code) {
  if (code.length > MAX_CODE) return { admit: false, reason: "malformed_code", source: "local" };
  const nonce = newNonce(); // one decision, one nonce: the online tries and the offline scan share it
  try {
    const answer = await scanOnline(code, nonce, direction);
    // Single entry: a ticket the gateway says is in counts here offline too (another gate admitted it after
    // this gate's list was made).
    const single = (snapshot?.rules?.entry_policy ?? "single") === "single";
    if (answer.admit || (single && answer.reason === "already_checked_in")) remember(answer.ticket_id, nonce);
    sync(); // the network is back: send what waits
    return { ...answer, source: "online" };
  } catch (error) {
    if (error instanceof Refused) {
      return { admit: false, reason: error.status === 401 || error.status === 403 ? "gate_key_refused" : error.code,
               detail: error.message, source: "online" };
    }
    if (!(error instanceof Unreachable)) throw error;
  }
  if (!snapshot) return { admit: false, reason: "no_snapshot", source: "offline" };
  const answer = await snapshot.decide(code, Date.now(), local(), direction);
  if (answer.admit) {
    // The online tries may have admitted it (their answer lost): the nonce lets the sync recognise this gate's
    // own admission instead of reporting a conflict.
    pending.push({ code, scanned_at: new Date().toISOString(), ticket_id: answer.ticket_id, nonce, direction });
    save(STORE.pending, pending);
    remember(answer.ticket_id, nonce);
  }
  return { ...answer, source: "offline" };
}

function remember(ticketId, nonce) {
  if (!ticketId) return;
  const rules = snapshot?.rules;
  const day = rules?.entry_policy === "days" ? dayOf(Date.now(), rules.timezone) : null;
  records.push({ ticket_id: ticketId, direction, day, at: Date.now(), nonce });
  save(STORE.records, records);
}

async function onCode(code) {
  const now = performance.now();
  if (deciding || now - last.at < MIN_ANSWER_MS || (code === last.code && now - last.at < ANSWER_MS)) return;
  deciding = true;
  try {
    const answer = await decide(code);
    last = { code, at: performance.now() };
    showAnswer(answer);
  } catch (error) {
    status(`Scan failed: ${error.message}`, "error");
  } finally {
    deciding = false;
  }
}

// ---- showing
function showAnswer(answer) {
  const known = (value) => value !== null && value !== undefined;
  const tier = answer.tier_name ?? (known(answer.tier_id) ? `Tier ${answer.tier_id}` : "");
  const reason = answer.admit ? admitNote(answer) : refusal(answer);
  const box = $("answer");
  box.dataset.admit = String(Boolean(answer.admit));
  box.dataset.reason = answer.reason ?? "";
  box.dataset.source = answer.source;
  box.dataset.unverified = String(Boolean(answer.unverified));
  $("answer-verdict").textContent = answer.admit ? (direction === "exit" ? "EXIT OK" : "ADMIT") : "REFUSED";
  $("answer-tier").textContent = tier;
  $("answer-reason").textContent = reason;
  $("answer-source").textContent = [
    known(answer.token_id) ? `Ticket #${answer.token_id}` : "",
    answer.source === "offline" ? "decided offline" : "",
  ].filter(Boolean).join(" · ");
  box.hidden = false;
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => { box.hidden = true; }, ANSWER_MS);
  signal(Boolean(answer.admit));
  counts[answer.admit ? "admitted" : "refused"] += 1;
  save(STORE.counts, counts);

  const item = document.createElement("li");
  item.dataset.admit = box.dataset.admit;
  item.dataset.reason = box.dataset.reason;
  item.dataset.source = answer.source;
  item.dataset.ticketId = answer.ticket_id ?? "";
  item.textContent = [new Date().toLocaleTimeString(), answer.admit ? "ADMIT" : "REFUSED", tier, reason,
                      answer.source === "offline" ? "(offline)" : ""].filter(Boolean).join(" ");
  $("history").prepend(item);
  while ($("history").children.length > 50) $("history").lastChild.remove();
  renderBar();
}

function refusal(answer) {
  const policy = snapshot?.rules?.entry_policy;
  if (answer.reason === "already_checked_in" && ALREADY[policy]) return ALREADY[policy];
  const text = REASONS[answer.reason];
  if (typeof text === "function") return text(age(snapshot ? snapshot.ageSeconds(Date.now()) : 0));
  return text ?? answer.detail ?? answer.reason ?? "Refused";
}

function admitNote(answer) {
  return answer.unverified ? "Not in this gate's list: admitted by the event's rule, checked when back online" : "";
}

/** "13 s", "4 min", "2 h 5 min". */
function age(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A sound and a vibration: one high beep to admit, two low ones to refuse. */
function signal(admit) {
  navigator.vibrate?.(admit ? 120 : [120, 80, 120]);
  if (!audio) return;
  const tones = admit ? [[880, 0, 0.15]] : [[220, 0, 0.15], [220, 0.22, 0.15]];
  for (const [frequency, at, length] of tones) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = frequency;
    oscillator.type = admit ? "sine" : "square";
    gain.gain.value = 0.2;
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(audio.currentTime + at);
    oscillator.stop(audio.currentTime + at + length);
  }
  document.body.dataset.lastSignal = admit ? "admit" : "refuse";
}

function status(text, kind = "") {
  $("status").textContent = text;
  $("status").className = kind;
  $("setup-status").textContent = gateKey ? "" : text;
  $("setup-status").className = kind;
}

function renderBar() {
  const online = navigator.onLine;
  $("network").textContent = online ? "online" : "OFFLINE";
  $("network").className = online ? "" : "offline";
  const bar = $("bar");
  bar.dataset.online = String(online);
  bar.dataset.snapshotTickets = snapshot ? String(snapshot.size) : "";
  bar.dataset.pending = String(pending.length);
  bar.dataset.snapshotAge = snapshot ? String(snapshot.ageSeconds(Date.now())) : "";
  bar.dataset.deltas = String(kept?.deltas?.length ?? 0);
  $("snapshot-state").textContent = snapshot
    ? `list: ${snapshot.size.toLocaleString()} tickets, ${age(snapshot.ageSeconds(Date.now()))} old`
    : "no list yet";
  $("pending-state").textContent = pending.length ? `${pending.length} offline scans to send` : "all scans sent";
  $("change-key").disabled = pending.length > 0;
  $("count-admitted").textContent = String(counts.admitted);
  $("count-refused").textContent = String(counts.refused);
  const data = snapshot?.data;
  const title = [data?.event_name, data?.gate_label].filter(Boolean).join(" · ");
  $("gate-title").textContent = title || "ticketkit gate";
  document.title = `${title ? `${title} · ` : ""}Gate scanner · ticketkit`;
  const reentry = snapshot?.rules?.entry_policy === "reentry";
  $("direction").hidden = !reentry;
  if (!reentry && direction !== "entry") setDirection("entry");
}

function setDirection(way) {
  direction = way;
  localStorage.setItem(STORE.direction, way);
  $("direction-entry").setAttribute("aria-pressed", String(way === "entry"));
  $("direction-exit").setAttribute("aria-pressed", String(way === "exit"));
  document.body.dataset.direction = way;
}

// ---- sending offline admissions
async function sync() {
  if (syncing || !pending.length || !gateKey) return;
  syncing = true;
  const batch = pending.slice(0, 100);
  try {
    const scans = batch.map(({ code, scanned_at, nonce, direction: way }) => (
      { code, scanned_at, nonce, direction: way ?? "entry" })); // older pages: no nonce, no direction
    const result = await call("gate/sync", { device, scans });
    pending = pending.slice(batch.length);
    save(STORE.pending, pending);
    const count = (outcome) => result.results.filter((r) => r.result === outcome).length;
    const [conflicts, rejected] = [count("conflict"), count("rejected")];
    if (conflicts || rejected) {
      status(`Of the offline admissions sent, ${conflicts} had been admitted by another gate first and ${rejected} `
             + "were not genuine codes: both are reported to the organiser.", "error");
    }
  } catch (error) {
    if (error instanceof Refused) status(`Sync refused: ${error.message}`, "error");
  } finally {
    syncing = false;
    renderBar();
  }
}

// ---- the camera
async function startCamera() {
  $("start").hidden = true;
  try {
    audio ??= new AudioContext();
    await audio.resume();
  } catch {
    audio = null; // no sound here: the colours and the vibration still tell
  }
  status("Opening the camera…");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    const video = $("camera");
    video.srcObject = stream;
    await video.play();
    status("");
    scanFrames();
  } catch (error) {
    $("start").hidden = false;
    status(`No camera: ${error.message}`, "error");
  }
}

function scanFrames() {
  const video = $("camera");
  try {
    if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
      const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      frame.canvas.width = width;
      frame.canvas.height = height;
      frame.drawImage(video, 0, 0, width, height);
      const found = window.jsQR(frame.getImageData(0, 0, width, height).data, width, height,
                                { inversionAttempts: "dontInvert" });
      if (found?.data) onCode(found.data);
    }
  } finally {
    setTimeout(scanFrames, FRAME_MS);
  }
}

// ---- setting up
function ensureDevice() {
  if (!device) {
    device = `scanner-${crypto.randomUUID().slice(0, 8)}`;
    localStorage.setItem(STORE.device, device);
  }
  return device;
}

async function start() {
  $("setup").hidden = Boolean(gateKey);
  $("scan").hidden = !gateKey;
  $("change-key").hidden = !gateKey;
  if (!gateKey) return;
  ensureDevice();
  await useSnapshot(await keptList()).catch(() => false);
  renderBar();
  await refreshSnapshot();
  sync();
}

function readFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key");
  if (!key) return;
  setKey(key);
  history.replaceState(null, "", location.pathname + location.search);
}

function setKey(key) {
  if (key === gateKey) return;
  if (pending.length) {
    status("This gate still has offline scans to send: the key stays until they are sent.", "error");
    return;
  }
  // A new key may be another event's: forget what belonged to the old one (its scans are all sent).
  for (const name of [STORE.snapshot, STORE.records, STORE.pending, STORE.counts, ...OLD_STORE]) {
    localStorage.removeItem(name);
  }
  store.remove(LIST, "list").catch(() => {});
  snapshot = null;
  kept = null;
  records = [];
  pending = [];
  counts = { admitted: 0, refused: 0 };
  gateKey = key;
  localStorage.setItem(STORE.key, key);
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setKey($("gate-key").value.trim());
  start();
});
$("change-key").addEventListener("click", () => {
  if (pending.length) return; // send the offline scans first
  $("confirm-change").showModal();
});
$("confirm-change-cancel").addEventListener("click", () => $("confirm-change").close());
$("confirm-change-ok").addEventListener("click", () => {
  $("confirm-change").close();
  localStorage.removeItem(STORE.key);
  gateKey = null;
  start();
});
$("direction-entry").addEventListener("click", () => setDirection("entry"));
$("direction-exit").addEventListener("click", () => setDirection("exit"));
$("start").addEventListener("click", startCamera);
window.addEventListener("online", () => { renderBar(); sync(); refreshSnapshot(); });
window.addEventListener("offline", renderBar);
setInterval(sync, SYNC_MS);
setInterval(renderBar, 1000); // the list's age
setInterval(refreshSnapshot, SNAPSHOT_MS);
navigator.serviceWorker?.register("sw.js", { scope: "./" }).catch(() => {});
setDirection(direction);
readFragment();
start();
