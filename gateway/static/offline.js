// The gate's decision with no network: a code checked against the event's signed snapshot
// (GET /gate/snapshot, signed by the key of GET /gate/snapshot-key), in the order and with the reasons of
// gateway/services/gate.py's online check.

import * as gate from "./gatecode.js";

const VERIFY = { name: "ECDSA", hash: "SHA-256" };

/** Whether `snapshot` ({payload, signature}) is signed by `publicKeyText` (base64url raw P-256 point). */
export async function verifySnapshot(snapshot, publicKeyText) {
  const signature = gate.b64urlDecode(snapshot.signature ?? "");
  if (!signature || signature.length !== 64 || typeof snapshot.payload !== "string") return false;
  const key = await gate.importPublicKey(publicKeyText);
  return crypto.subtle.verify(VERIFY, key, signature, new TextEncoder().encode(snapshot.payload));
}

export class Snapshot {
  /**
   * `data`: the parsed payload of a verified snapshot: {event_id, cancelled, window_seconds, generated_at,
   * tickets: [{id, token_id, tier_id, tier_name, device_key, holder_changed, checked_in, refunded}], ...}.
   */
  constructor(data) {
    this.data = data;
    this.tickets = new Map(data.tickets.map((t) => [t.id, t]));
    this.windowSeconds = data.window_seconds ?? gate.WINDOW_SECONDS;
    this.keys = new Map(); // public key text -> CryptoKey
  }

  get size() {
    return this.tickets.size;
  }

  async publicKey(text) {
    if (!this.keys.has(text)) this.keys.set(text, await gate.importPublicKey(text));
    return this.keys.get(text);
  }

  /**
   * The answer for `code` at `nowMs` ({admit, reason, ticket_id, token_id, tier_id, tier_name}); the gate's own
   * admissions (`admittedHere`, a Set of ticket ids) count as check-ins. Another event's ticket is not in the
   * snapshot: `unknown_ticket` here, `wrong_event` online.
   */
  async decide(code, nowMs, admittedHere) {
    const parsed = gate.parseCode(code);
    if (!parsed) return refuse("malformed_code");
    const ticket = this.tickets.get(parsed.ticketId);
    if (!ticket) return refuse("unknown_ticket");
    const about = { ticket_id: ticket.id, token_id: ticket.token_id, tier_id: ticket.tier_id,
                    tier_name: ticket.tier_name ?? null };
    if (!ticket.device_key) return refuse("no_device_key", about);
    let genuine = false;
    try {
      genuine = await gate.verifySignature(await this.publicKey(ticket.device_key), parsed);
    } catch {
      genuine = false; // a key that is not a P-256 point verifies nothing
    }
    if (!genuine) return refuse("bad_signature", about);
    const drift = parsed.window - gate.windowAt(nowMs, this.windowSeconds);
    if (Math.abs(drift) > 1) return refuse("expired_code", about); // one window either side, as online
    if (this.data.cancelled || ticket.refunded) return refuse("cancelled", about);
    if (ticket.holder_changed) return refuse("not_owner", about);
    if (ticket.checked_in || admittedHere.has(ticket.id)) return refuse("already_checked_in", about);
    return { admit: true, reason: null, ...about };
  }
}

function refuse(reason, about = {}) {
  return { admit: false, reason, ticket_id: null, token_id: null, tier_id: null, tier_name: null, ...about };
}
