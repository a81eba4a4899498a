// The rotating gate code of docs/gate.md, in the browser (WebCrypto, no library).
//
//   payload   = ticket_uuid (16 bytes) || w (4 bytes, big-endian) || signature (64 bytes, r || s)
//   signature = ECDSA-P256-SHA256(device_key, "ticketkit-gate/v1" || ticket_uuid || w)
//   QR text   = "TK1." + base64url(payload, no padding)          (116 characters)
//
// WebCrypto's ECDSA signatures are already r || s (IEEE P1363), the format of the code.

export const WINDOW_SECONDS = 15; // the gateway's default; it says its own (bind answer, snapshot)
export const PREFIX = "TK1.";
export const CODE_LENGTH = 116;
const DOMAIN = new TextEncoder().encode("ticketkit-gate/v1");
const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };

/** The code window of a moment in milliseconds since the epoch. */
export function windowAt(ms, seconds = WINDOW_SECONDS) {
  return Math.floor(ms / 1000 / seconds);
}

/** Milliseconds left in the window of `ms`. */
export function msLeftInWindow(ms, seconds = WINDOW_SECONDS) {
  const length = seconds * 1000;
  return length - (ms % length);
}

export function b64urlEncode(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Strict base64url (no padding) to bytes; null if the text is not that. */
export function b64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function uuidToBytes(uuid) {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Uint8Array.from(hex.match(/../g), (pair) => parseInt(pair, 16));
}

export function bytesToUuid(bytes) {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function windowBytes(w) {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, w, false);
  return bytes;
}

function signedMessage(ticketBytes, w) {
  return concat(DOMAIN, ticketBytes, windowBytes(w));
}

/** A new device key pair: the private key can sign but can never be exported. */
export function generateDeviceKey() {
  return crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]);
}

/** The public key as the gateway binds it: base64url of the 65-byte uncompressed point. */
export async function exportPublicKey(publicKey) {
  return b64urlEncode(new Uint8Array(await crypto.subtle.exportKey("raw", publicKey)));
}

/** A base64url raw P-256 public key (65 bytes, uncompressed) as a CryptoKey that verifies. */
export function importPublicKey(text) {
  const raw = b64urlDecode(text);
  if (!raw || raw.length !== 65 || raw[0] !== 4) throw new Error("not a P-256 uncompressed public key");
  return crypto.subtle.importKey("raw", raw, ECDSA, false, ["verify"]);
}

/** The QR text for `ticketId` in window `w`, signed by the device's private key. */
export async function makeCode(privateKey, ticketId, w) {
  const ticket = uuidToBytes(ticketId);
  const signature = new Uint8Array(await crypto.subtle.sign(SIGNING, privateKey, signedMessage(ticket, w)));
  return PREFIX + b64urlEncode(concat(ticket, windowBytes(w), signature));
}

/** {ticketId, window, signature, message} of a code, or null if it is not a well-formed TK1 code. */
export function parseCode(text) {
  if (typeof text !== "string" || text.length !== CODE_LENGTH || !text.startsWith(PREFIX)) return null;
  const payload = b64urlDecode(text.slice(PREFIX.length));
  if (!payload || payload.length !== 84) return null;
  const ticket = payload.slice(0, 16);
  const w = new DataView(payload.buffer, payload.byteOffset + 16, 4).getUint32(0, false);
  return {
    ticketId: bytesToUuid(ticket), window: w, signature: payload.slice(20), message: signedMessage(ticket, w),
  };
}

/** Whether the parsed code's signature verifies with `publicKey` (a CryptoKey). */
export function verifySignature(publicKey, parsed) {
  return crypto.subtle.verify(SIGNING, publicKey, parsed.signature, parsed.message);
}
