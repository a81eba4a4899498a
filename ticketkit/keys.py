"""The organiser's signing key: from an eth-account keystore file (with its password) or an env var.

    signer = load_signer(keystore="organiser.json", password=getpass())   # or
    signer = load_signer(env="TICKETKIT_PRIVATE_KEY")
    collection.mint_batch(0, [...], sender=signer)                         # a LocalAccount

The key never appears in an error message, a repr or a str: a Signer shows its address and where
its key came from.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from .errors import InvalidInput

__all__ = [
    "DEFAULT_KEY_ENV",
    "Signer",
    "load_signer",
    "signer_from_env",
    "signer_from_key",
    "signer_from_keystore",
]

DEFAULT_KEY_ENV = "TICKETKIT_PRIVATE_KEY"
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class Signer(LocalAccount):
    """A LocalAccount whose repr and str show the address and the key's source, never the key."""

    source: str = "key"

    def __repr__(self) -> str:
        return f"Signer({self.address}, from {self.source})"

    __str__ = __repr__

    def __getstate__(self) -> Any:
        raise TypeError("a Signer holds a private key and is not pickled")

    def __reduce__(self) -> Any:
        raise TypeError("a Signer holds a private key and is not pickled")


def _make(key: bytes, source: str) -> Signer:
    base = Account.from_key(key)  # validates the scalar range
    signer = Signer(base._key_obj, base._publicapi)
    signer.source = source
    return signer


def signer_from_key(key: str | bytes, *, source: str = "key") -> Signer:
    """A Signer from a hex private key (with or without 0x) or 32 raw bytes."""
    if isinstance(key, str):
        text = key.strip()
        if not _HEX_KEY.match(text):
            raise InvalidInput("the private key is not 64 hex digits (0x prefix optional)", where=source)
        raw = bytes.fromhex(text.removeprefix("0x"))
    elif isinstance(key, bytes | bytearray) and len(key) == 32:
        raw = bytes(key)
    else:
        raise InvalidInput("the private key is not 32 bytes", where=source)
    try:
        return _make(raw, source)
    except Exception:  # noqa: BLE001  # never chain: the original error may show the key
        raise InvalidInput("the private key is out of range for secp256k1", where=source) from None


def signer_from_env(name: str = DEFAULT_KEY_ENV) -> Signer:
    """A Signer from the private key in environment variable `name`."""
    value = os.environ.get(name)
    if not value:
        raise InvalidInput(
            f"environment variable {name} is not set (expected a hex private key)", where=f"env:{name}"
        )
    return signer_from_key(value, source=f"env:{name}")


def signer_from_keystore(path: str | Path, password: str) -> Signer:
    """A Signer from an encrypted keystore JSON (as written by eth-account, geth or foundry `cast wallet`)."""
    path = Path(path)
    where = f"keystore:{path}"
    try:
        keyfile = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInput(f"cannot read the keystore: {error.strerror or error}", where=where) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("the keystore is not a JSON file", where=where) from None
    try:
        raw = Account.decrypt(keyfile, password)
    except ValueError as error:
        message = "wrong password" if "MAC mismatch" in str(error) else "cannot decrypt the keystore"
        raise InvalidInput(message, where=where) from None
    except Exception:  # noqa: BLE001  # any other failure: not a keystore
        raise InvalidInput("the keystore is not a valid encrypted key file", where=where) from None
    return _make(bytes(raw), where)


def load_signer(
    *, keystore: str | Path | None = None, password: str | None = None, env: str | None = None
) -> Signer:
    """From a keystore (with `password`, or the TICKETKIT_KEYSTORE_PASSWORD env var) or from env var `env`."""
    if keystore is not None:
        if password is None:
            password = os.environ.get("TICKETKIT_KEYSTORE_PASSWORD")
        if password is None:
            raise InvalidInput(
                "a keystore needs a password (or TICKETKIT_KEYSTORE_PASSWORD)", where=f"keystore:{keystore}"
            )
        return signer_from_keystore(keystore, password)
    return signer_from_env(env or DEFAULT_KEY_ENV)
