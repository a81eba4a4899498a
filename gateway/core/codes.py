"""The gate's wire formats, pure and fast (no database, no clock reads unless asked): the rotating code a
fan's device shows, its time windows, device public keys, and the gateway's snapshot signatures.

docs/gate.md is the specification; the fan and scanner pages implement the same format in JavaScript.

    payload   = ticket_uuid (16 bytes) || window (4 bytes, big-endian) || signature (64 bytes, r || s)
    signature = ECDSA-P256-SHA256(device_key, DOMAIN || ticket_uuid || window)
    code      = "TK1." + base64url(payload, no padding)                      (116 characters)

Signatures are raw r || s (IEEE P1363, what WebCrypto produces and verifies), never DER, on the wire.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "CODE_LENGTH",
    "DOMAIN",
    "PREFIX",
    "WINDOW_SECONDS",
    "Code",
    "CodeError",
    "b64url",
    "code_message",
    "compress_public_key",
    "decode",
    "derive_signing_key",
    "encode",
    "load_private_key",
    "load_public_key",
    "new_device_key",
    "public_key_text",
    "sign_bytes",
    "sign_code",
    "verify_bytes",
    "verify_code_signature",
    "window_accepted",
    "window_of",
]

PREFIX = "TK1."
DOMAIN = b"ticketkit-gate/v1"
WINDOW_SECONDS = 15
PAYLOAD_BYTES = 16 + 4 + 64
CODE_LENGTH = len(PREFIX) + PAYLOAD_BYTES * 4 // 3  # 116: 84 bytes are 112 base64 characters, no padding
PUBLIC_KEY_LENGTH = 87  # 65 bytes (0x04 || x || y) in base64url without padding
SIGNATURE_LENGTH = 86  # 64 bytes (r || s) in base64url without padding
DRIFT_WINDOWS = 1  # windows accepted either side of the gate's own (clock drift)

_CURVE = ec.SECP256R1()
_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ECDSA = ec.ECDSA(hashes.SHA256())
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_SNAPSHOT_KEY_INFO = b"ticketkit-gateway gate snapshot key v1"


class CodeError(ValueError):
    """Text that is not a well-formed code, key or signature."""


# ---- base64url (strict: the URL-safe alphabet only, no padding, canonical)
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str, length: int) -> bytes:
    """`length` bytes from base64url text without padding; anything else is a CodeError."""
    if not isinstance(text, str) or len(text) != (length * 4 + 2) // 3 or not _B64URL.fullmatch(text):
        raise CodeError("not base64url of the expected length")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CodeError("not base64url") from None
    if len(data) != length or b64url(data) != text:  # unused trailing bits set: not the canonical text
        raise CodeError("not canonical base64url")
    return data


# ---- windows
def window_of(unix_time: float, seconds: int = WINDOW_SECONDS) -> int:
    """The window a moment falls in: floor(unix_time / seconds)."""
    return int(unix_time // seconds)


def window_accepted(window: int, unix_time: float | None = None, seconds: int = WINDOW_SECONDS) -> bool:
    """True if `window` is the window of `unix_time` (default: now) or one either side of it."""
    current = window_of(time.time() if unix_time is None else unix_time, seconds)
    return abs(window - current) <= DRIFT_WINDOWS


# ---- codes
@dataclass(frozen=True, slots=True)
class Code:
    ticket_id: uuid.UUID
    window: int
    signature: bytes  # 64 bytes, r || s

    @property
    def message(self) -> bytes:
        return code_message(self.ticket_id, self.window)


def code_message(ticket_id: uuid.UUID, window: int) -> bytes:
    """What a device signs for one window: DOMAIN || ticket uuid (16 bytes) || window (4 bytes,
    big-endian)."""
    return DOMAIN + ticket_id.bytes + window.to_bytes(4, "big")


def encode(ticket_id: uuid.UUID, window: int, signature: bytes) -> str:
    if len(signature) != 64:
        raise CodeError("a signature is 64 bytes (r || s)")
    if not 0 <= window < 2**32:
        raise CodeError("a window is an unsigned 32-bit number")
    return PREFIX + b64url(ticket_id.bytes + window.to_bytes(4, "big") + signature)


def decode(text: str) -> Code:
    """Parse a code (CodeError if it is not exactly one); the signature is not checked here."""
    if not isinstance(text, str) or len(text) != CODE_LENGTH or not text.startswith(PREFIX):
        raise CodeError("not a TK1 code")
    payload = _unb64url(text[len(PREFIX) :], PAYLOAD_BYTES)
    return Code(uuid.UUID(bytes=payload[:16]), int.from_bytes(payload[16:20], "big"), payload[20:])


def _der(signature: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))


def _raw(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_code_signature(public_key: ec.EllipticCurvePublicKey, code: Code) -> bool:
    """True if `code`'s signature is the device key's over (ticket, window)."""
    r, s = int.from_bytes(code.signature[:32], "big"), int.from_bytes(code.signature[32:], "big")
    if not (0 < r < _ORDER and 0 < s < _ORDER):
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), code.message, _ECDSA)
    except InvalidSignature:
        return False
    return True


def sign_code(
    private_key: ec.EllipticCurvePrivateKey, ticket_id: uuid.UUID | str, window: int | None = None
) -> str:
    """A valid code for `ticket_id` in `window` (default: the current one): what a fan's device shows.

    For tests and benchmarks; devices sign with WebCrypto (ECDSA P-256 SHA-256, raw r || s).
    """
    ticket = ticket_id if isinstance(ticket_id, uuid.UUID) else uuid.UUID(str(ticket_id))
    window = window_of(time.time()) if window is None else window
    return encode(ticket, window, _raw(private_key.sign(code_message(ticket, window), _ECDSA)))


# ---- keys
def new_device_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key pair, as a device would make one (tests, benchmarks)."""
    return ec.generate_private_key(_CURVE)


def public_key_text(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> str:
    """base64url of the 65-byte uncompressed point (WebCrypto's `raw` export)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return b64url(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def compress_public_key(text: str) -> str:
    """An uncompressed key's text (87 characters) as its compressed point (33 bytes: 0x02|0x03 || x, 44
    characters), as gate snapshots carry keys. Byte arithmetic only, on a key the gateway checked when it was
    bound (a snapshot compresses every key of an event: the strict decoder would be a third of its time)."""
    data = base64.urlsafe_b64decode(text + "=")
    if len(data) != 65:
        raise CodeError("not an uncompressed public key")
    compressed = bytes((2 | (data[64] & 1),)) + data[1:33]
    return base64.urlsafe_b64encode(compressed).decode("ascii")  # 44 characters, no padding


@lru_cache(maxsize=65536)
def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """A device (or snapshot) public key from its text, uncompressed (87 characters, what devices bind) or
    compressed (44, what snapshots carry); CodeError unless it is a point on P-256.

    Cached: a gate sees the same keys again and again, and loading a point costs more than the lookup.
    """
    if isinstance(text, str) and len(text) == 44:
        data = _unb64url(text, 33)
        if data[0] not in (2, 3):
            raise CodeError("a compressed public key is 0x02|0x03 || x")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, data)
        except ValueError:
            raise CodeError("not a point on P-256") from None
    data = _unb64url(text, 65)
    if data[0] != 4:
        raise CodeError("a public key is an uncompressed point (0x04 || x || y)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, data)
    except ValueError:
        raise CodeError("not a point on P-256") from None


def load_private_key(hex_scalar: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from its 32-byte scalar in hex (with or without 0x)."""
    text = hex_scalar.strip()
    text = text[2:] if text[:2].lower() == "0x" else text
    try:
        scalar = int(text, 16)
    except ValueError:
        raise CodeError("a private key is a hex number") from None
    if len(text) > 64 or not 0 < scalar < _ORDER:
        raise CodeError("not a P-256 private key")
    return ec.derive_private_key(scalar, _CURVE)


def derive_signing_key(secret: str) -> ec.EllipticCurvePrivateKey:
    """The gateway's snapshot key, derived from a secret with HKDF-SHA256: every process gets the same key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=_SNAPSHOT_KEY_INFO)
    material = hkdf.derive(secret.encode())
    return ec.derive_private_key(int.from_bytes(material, "big") % (_ORDER - 1) + 1, _CURVE)


# ---- detached signatures (offline snapshots)
def sign_bytes(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    """ECDSA P-256 SHA-256 over `data`: base64url of r || s (WebCrypto verifies it as is)."""
    return b64url(_raw(private_key.sign(data, _ECDSA)))


def verify_bytes(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: str) -> bool:
    try:
        raw = _unb64url(signature, 64)
    except CodeError:
        return False
    try:
        public_key.verify(_der(raw), data, _ECDSA)
    except (InvalidSignature, ValueError):
        return False
    return True
