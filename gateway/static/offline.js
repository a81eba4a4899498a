// The gate's decision with no network: a code checked against the event's signed snapshot
// (GET /gate/snapshot, signed by the key of GET /gate/snapshot-key). The rules are the gateway's one list
// (gateway/core/gate_rules.py): the snapshot names them in order with their parameters (`rules`), and each is
// a predicate below. A rule this page does not know refuses (`update_scanner`): a newer gateway's rules are
// never skipped. tests/gateway/gate_vectors.json is run here and in Python.

import * as gate from "./gatecode.js";

const VERIFY = { name: "ECDSA", hash: "SHA-256" };

/** Whether `snapshot` ({payload, signature}) is signed by `publicKeyText` (base64url raw P-256 point). */
export async function verifySnapshot(snapshot, publicKeyText) {
  const signature = gate.b64urlDecode(snapshot.signature ?? "");
  if (!signature || signature.length !== 64 || typeof snapshot.payload !== "string") return false;
  const key = await gate.importPublicKey(publicKeyText);
  return crypto.subtle.verify(VERIFY, key, signature, new TextEncoder().encode(snapshot.payload));
}

// A snapshot of version 1 carried no rules: these are the ones it was decided with.
const V1_RULES = {
  order: ["malformed_code", "unknown_ticket", "wrong_event", "not_in_list", "no_device_key", "bad_signature",
          "expired_code", "cancelled", "not_owner", "already_checked_in"],
  window_seconds: gate.WINDOW_SECONDS, drift_windows: 1, entry_policy: "single", days: [], timezone: "UTC",
  offline_unlisted: "refuse",
};

const dayFormats = new Map();

/** The ISO date (YYYY-MM-DD) of `ms` in the IANA time zone `zone`. */
export function dayOf(ms, zone) {
  if (!dayFormats.has(zone)) {
    dayFormats.set(zone, new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit",
                                                             day: "2-digit" }));
  }
  return dayFormats.get(zone).format(new Date(ms));
}

/**
 * What this gate recorded itself since its snapshot: {entries: Map id -> n, exits: Map id -> n,
 * days: Map id -> Set of ISO dates}. Added to the snapshot's state of each ticket.
 */
export class Local {
  constructor(records = []) {
    this.entries = new Map();
    this.exits = new Map();
    this.days = new Map();
    for (const record of records) this.add(record);
  }

  /** `record`: {ticket_id, direction: "entry" | "exit", day} */
  add({ ticket_id: id, direction, day }) {
    const counts = direction === "exit" ? this.exits : this.entries;
    counts.set(id, (counts.get(id) ?? 0) + 1);
    if (direction !== "exit" && day) {
      if (!this.days.has(id)) this.days.set(id, new Set());
      this.days.get(id).add(day);
    }
  }
}

// Each rule: (scan) -> true to refuse. `scan`: {rules, nowMs, direction, parsed, ticket, state, unverified}.
const entries = (s) => s.state.entries;
const RULES = {
  malformed_code: (s) => !s.parsed,
  unknown_ticket: () => false, // online only: offline, a ticket not listed is `not_in_list`
  wrong_event: () => false, // online only: another event's ticket is not in the list
  not_in_list: (s) => {
    if (s.ticket && s.ticket.device_key) return false;
    if (s.ticket && s.rules.offline_unlisted === "admit") {
      s.unverified = true; // listed, but no phone key when the list was made: admitted, checked at sync
      return false;
    }
    return true;
  },
  no_device_key: (s) => !s.ticket.device_key && !s.unverified,
  bad_signature: (s) => !s.unverified && !s.genuine,
  expired_code: (s) => Math.abs(s.parsed.window - gate.windowAt(s.nowMs, s.rules.window_seconds))
    > s.rules.drift_windows,
  cancelled: (s) => s.cancelled || s.ticket.refunded,
  not_owner: (s) => s.ticket.holder_changed,
  no_exit: (s) => s.direction === "exit" && s.rules.entry_policy !== "reentry",
  not_inside: (s) => s.direction === "exit" && entries(s) <= s.state.exits,
  not_valid_today: (s) => s.direction === "entry" && s.rules.entry_policy === "days"
    && !s.rules.days.includes(dayOf(s.nowMs, s.rules.timezone)),
  already_checked_in: (s) => {
    if (s.direction !== "entry") return false;
    if (s.rules.entry_policy === "reentry") return entries(s) > s.state.exits;
    if (s.rules.entry_policy === "days") return s.state.days.has(dayOf(s.nowMs, s.rules.timezone));
    return entries(s) > 0;
  },
};

// A list's ticket: [id, token_id, tier_id, device_key, flags, entries?, exits?, days?] (docs/gate.md).
const HOLDER_CHANGED = 1;
const CHECKED_IN = 2;
const REFUNDED = 4;

/** A ticket's id in a list: base64url of its UUID's first 8 bytes. */
export function listId(ticketId) {
  return gate.b64urlEncode(gate.uuidToBytes(ticketId).slice(0, 8));
}

function ticketOf(row) {
  const flags = row[4];
  return { token_id: row[1], tier_id: row[2], device_key: row[3], holder_changed: Boolean(flags & HOLDER_CHANGED),
           checked_in: Boolean(flags & CHECKED_IN), refunded: Boolean(flags & REFUNDED), entries: row[5],
           exits: row[6], days: row[7] };
}

// P-256: y^2 = x^3 - 3x + b (mod p); for browsers whose WebCrypto imports no compressed point.
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function modPow(base, exponent, modulus) {
  let result = 1n;
  base %= modulus;
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
    exponent >>= 1n;
  }
  return result;
}

function decompress(bytes) {
  const x = BigInt(`0x${Array.from(bytes.slice(1), (b) => b.toString(16).padStart(2, "0")).join("")}`);
  let y = modPow(((x * x * x - 3n * x + B) % P + P) % P, (P + 1n) / 4n, P);
  if ((y & 1n) !== BigInt(bytes[0] & 1)) y = P - y;
  const hex = (n) => n.toString(16).padStart(64, "0");
  const out = Uint8Array.from(`04${hex(x)}${hex(y)}`.match(/../g), (pair) => parseInt(pair, 16));
  return out;
}

/** A list's key (compressed point, 33 bytes base64url) as a CryptoKey that verifies. */
async function importListKey(text) {
  const raw = gate.b64urlDecode(text);
  if (!raw || raw.length !== 33 || (raw[0] !== 2 && raw[0] !== 3)) return gate.importPublicKey(text);
  const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
  try {
    return await crypto.subtle.importKey("raw", raw, ECDSA, false, ["verify"]);
  } catch {
    return crypto.subtle.importKey("raw", decompress(raw), ECDSA, false, ["verify"]);
  }
}

export class Snapshot {
  /**
   * `data`: the parsed payload of a verified snapshot (docs/gate.md): {event_id, event_name, gate_label,
   * cancelled, generated_at, cursor, rules, tiers: {tier_id: name}, tickets: [[id, token_id, tier_id, device_key,
   * flags, entries?, exits?, days?]], ...}.
   */
  constructor(data) {
    this.data = data;
    this.tiers = data.tiers ?? {};
    this.tickets = new Map();
    for (const row of data.tickets) this.tickets.set(row[0], row);
    this.rules = data.rules ?? { ...V1_RULES, window_seconds: data.window_seconds ?? gate.WINDOW_SECONDS };
    this.windowSeconds = this.rules.window_seconds;
    this.keys = new Map(); // public key text -> CryptoKey
  }

  get size() {
    return this.tickets.size;
  }

  /** Apply a verified delta's payload (`kind` delta, for this event): its tickets replace theirs, whole. */
  merge(delta) {
    if (delta.event_id !== this.data.event_id) throw new Error("a delta for another event");
    for (const row of delta.tickets) this.tickets.set(row[0], row);
    for (const name of ["generated_at", "cursor", "rules", "cancelled", "event_name", "gate_label"]) {
      if (name in delta) this.data[name] = delta[name];
    }
    Object.assign(this.tiers, delta.tiers ?? {});
    this.rules = delta.rules ?? this.rules;
    this.windowSeconds = this.rules.window_seconds;
  }

  /** Seconds since the gateway made this list. */
  ageSeconds(nowMs) {
    return Math.max(0, Math.round(nowMs / 1000 - this.data.generated_at));
  }

  async publicKey(text) {
    if (!this.keys.has(text)) this.keys.set(text, await importListKey(text));
    return this.keys.get(text);
  }

  /** The ticket's entry state: the list's, plus what this gate recorded since (`local`, a Local). */
  state(id, ticket, local) {
    const listedEntries = ticket.entries ?? (ticket.checked_in ? 1 : 0);
    const days = new Set([...(ticket.days ?? []), ...(local.days.get(id) ?? [])]);
    return { entries: listedEntries + (local.entries.get(id) ?? 0), exits: (ticket.exits ?? 0)
             + (local.exits.get(id) ?? 0), days };
  }

  /**
   * The answer for `code` at `nowMs` ({admit, reason, unverified, ticket_id, token_id, tier_id, tier_name}),
   * for an entry or an exit (`direction`), this gate's own records since the snapshot in `local` (a Local).
   */
  async decide(code, nowMs, local = new Local(), direction = "entry") {
    const parsed = gate.parseCode(code);
    if (!parsed) return refuse("malformed_code");
    const row = this.tickets.get(listId(parsed.ticketId));
    const ticket = row ? ticketOf(row) : null;
    const scan = { rules: this.rules, nowMs, direction, parsed, ticket, unverified: false, genuine: false,
                   cancelled: Boolean(this.data.cancelled),
                   state: ticket ? this.state(parsed.ticketId, ticket, local) : null };
    const about = ticket ? { ticket_id: parsed.ticketId, token_id: ticket.token_id, tier_id: ticket.tier_id,
                             tier_name: this.tiers[ticket.tier_id] ?? null } : {};
    for (const name of this.rules.order) {
      const rule = RULES[name];
      if (!rule) return refuse("update_scanner", about);
      if (name === "bad_signature" && !scan.unverified) scan.genuine = await this.genuine(ticket, parsed);
      if (rule(scan)) return refuse(name, about);
    }
    return { admit: true, reason: null, unverified: scan.unverified, ...about };
  }

  async genuine(ticket, parsed) {
    try {
      return await gate.verifySignature(await this.publicKey(ticket.device_key), parsed);
    } catch {
      return false; // a key that is not a P-256 point verifies nothing
    }
  }
}

function refuse(reason, about = {}) {
  return { admit: false, reason, unverified: false, ticket_id: null, token_id: null, tier_id: null,
           tier_name: null, ...about };
}
