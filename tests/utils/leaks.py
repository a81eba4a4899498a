"""Secrets and where they must never appear: collect them, then search captured text for each one."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import create_engine, text

from gateway.core.security import decrypt_key


def custodial_keys(database_url: str, secret: str) -> dict[str, str]:
    """Every fan's custodial private key (0x hex), decrypted from the database: {fan address: key}."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, address, encrypted_key FROM fan_accounts")).all()
    finally:
        engine.dispose()
    keys = {}
    for fan_id, address, blob in rows:
        fan_id = str(fan_id)
        if "-" not in fan_id:  # SQLite keeps UUIDs as 32 hex digits; the key is bound to the dashed form
            fan_id = f"{fan_id[:8]}-{fan_id[8:12]}-{fan_id[12:16]}-{fan_id[16:20]}-{fan_id[20:]}"
        keys[address] = "0x" + decrypt_key(blob, secret=secret, associated=fan_id).hex()
    return keys


def tokens_in(payload: object) -> set[str]:
    """API keys, session tokens and recovery codes anywhere in a JSON response (handed out once, by value)."""
    found: set[str] = set()
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in {"api_key", "session_token", "recovery_code"} and isinstance(value, str):
                found.add(value)
            else:
                found |= tokens_in(value)
    elif isinstance(payload, list):
        for value in payload:
            found |= tokens_in(value)
    return found


def _pattern(secret: str) -> re.Pattern[str]:
    """A hex secret with or without 0x, any case; anything else as it is."""
    body = secret[2:] if secret.lower().startswith("0x") else secret
    if re.fullmatch(r"[0-9a-fA-F]{32,}", body):
        return re.compile(re.escape(body), re.IGNORECASE)
    return re.compile(re.escape(secret))


def find_leaks(text_: str, secrets: Iterable[str]) -> list[str]:
    """The secrets (shown by their first 10 characters) that occur in the text."""
    return sorted(s[:10] + "…" for s in set(secrets) if s and _pattern(s).search(text_))
