"""Tokens (API keys, fan sessions) and at-rest encryption of custodial keys.

Tokens are random, shown once, and stored only as SHA-256 hashes. Custodial keys are encrypted with
AES-256-GCM (pycryptodome) under a key derived from the settings' key-encryption secret; the
fan's UUID is bound as associated data so a ciphertext cannot be swapped between accounts.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from Crypto.Cipher import AES

_VERSION = b"v1"


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"ticketkit-gateway custodial keys v1\0" + secret.encode()).digest()


def encrypt_key(private_key: bytes, *, secret: str, associated: str) -> str:
    nonce = secrets.token_bytes(12)
    cipher = AES.new(_key(secret), AES.MODE_GCM, nonce=nonce)
    cipher.update(associated.encode())
    ciphertext, tag = cipher.encrypt_and_digest(private_key)
    return (_VERSION + b":" + base64.b64encode(nonce + tag + ciphertext)).decode()


def decrypt_key(blob: str, *, secret: str, associated: str) -> bytes:
    version, _, payload = blob.encode().partition(b":")
    if version != _VERSION:
        raise ValueError("unknown key encryption version")
    raw = base64.b64decode(payload)
    nonce, tag, ciphertext = raw[:12], raw[12:28], raw[28:]
    cipher = AES.new(_key(secret), AES.MODE_GCM, nonce=nonce)
    cipher.update(associated.encode())
    return cipher.decrypt_and_verify(ciphertext, tag)
