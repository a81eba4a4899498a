"""Signature checks per second on one core, in process: the gate's limit before any I/O.

    python -m bench.signatures [--seconds 2] [--out bench/results/signatures.json]

- `p256_check_per_s` (reported as `sig.recover_per_s`): the gate's whole check of one rotating code,
  as docs/gate.md defines it: split the 84-byte payload (16-byte ticket uuid, 4-byte window, 64-byte
  r || s), turn r || s into DER, and verify ECDSA P-256 / SHA-256 over b"ticketkit-gate/v1" + uuid +
  window against the ticket's device key (a public key object loaded beforehand, as a gate would
  cache it) with the `cryptography` package. Base64url decoding of the QR text is not included.
- `p256_verify_per_s`: the verify call alone, DER signature prepared beforehand.
- `secp256k1_recover_per_s`: eth_keys' ecdsa_recover with the coincurve backend, over a 32-byte hash,
  for reference (the anchors' figure for the same call on a 2-core VM: about 12k/s).

Each figure counts operations over the process's CPU time (time.process_time) in a single thread, so
it is the rate of one core even when the machine is busy; the wall-clock rate is kept beside it.
Every signature is checked for validity before timing, and every timed check must succeed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from eth_keys import KeyAPI
from eth_keys.backends import CoinCurveECCBackend

__all__ = ["DOMAIN", "check_code", "main", "make_code", "measure"]

DOMAIN = b"ticketkit-gate/v1"
PAYLOAD_BYTES = 16 + 4 + 64
SAMPLES = 64  # distinct codes (tickets and device keys) cycled through while timing


def make_code(key: ec.EllipticCurvePrivateKey, ticket: bytes, window: int) -> bytes:
    """An 84-byte payload as a fan's device makes it: uuid || window || r || s."""
    head = ticket + window.to_bytes(4, "big")
    r, s = decode_dss_signature(key.sign(DOMAIN + head, ec.ECDSA(hashes.SHA256())))
    return head + r.to_bytes(32, "big") + s.to_bytes(32, "big")


def check_code(payload: bytes, public_key: ec.EllipticCurvePublicKey) -> bool:
    """The gate's signature check of one payload (no lookups, no clock): True if the signature holds."""
    if len(payload) != PAYLOAD_BYTES:
        return False
    signature = encode_dss_signature(
        int.from_bytes(payload[20:52], "big"), int.from_bytes(payload[52:84], "big")
    )
    try:
        public_key.verify(signature, DOMAIN + payload[:20], ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _rate(operation: Callable[[int], Any], seconds: float) -> dict[str, float]:
    """Run operation(i) for i = 0, 1, ... for about `seconds` of CPU time; operations per second."""
    for i in range(SAMPLES):  # warm-up
        operation(i)
    count, batch = 0, 256
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while True:
        for i in range(count, count + batch):
            operation(i)
        count += batch
        cpu = time.process_time() - cpu0
        if cpu >= seconds:
            break
    wall = time.perf_counter() - wall0
    return {"per_s": round(count / cpu), "wall_per_s": round(count / wall), "operations": count}


def measure(seconds: float = 2.0) -> dict[str, Any]:
    """The three rates, each timed for about `seconds` of CPU."""
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(SAMPLES)]
    publics = [k.public_key() for k in keys]
    window = int(time.time()) // 15
    codes = [make_code(k, uuid.uuid4().bytes, window) for k in keys]
    assert all(check_code(c, p) for c, p in zip(codes, publics)), "a P-256 code does not verify"
    assert not check_code(codes[0], publics[1]), "a P-256 code verifies under the wrong key"
    ders = [
        encode_dss_signature(int.from_bytes(c[20:52], "big"), int.from_bytes(c[52:], "big")) for c in codes
    ]

    def p256_check(i: int) -> None:
        if not check_code(codes[i % SAMPLES], publics[i % SAMPLES]):
            raise AssertionError("a valid code was refused")

    def p256_verify(i: int) -> None:
        j = i % SAMPLES
        publics[j].verify(ders[j], DOMAIN + codes[j][:20], ec.ECDSA(hashes.SHA256()))

    api = KeyAPI(backend=CoinCurveECCBackend())
    k1_keys = [api.PrivateKey(os.urandom(32)) for _ in range(SAMPLES)]
    hashes_ = [os.urandom(32) for _ in range(SAMPLES)]
    k1_sigs = [api.ecdsa_sign(h, k) for h, k in zip(hashes_, k1_keys)]
    expected = [k.public_key for k in k1_keys]

    def k1_recover(i: int) -> None:
        j = i % SAMPLES
        if api.ecdsa_recover(hashes_[j], k1_sigs[j]) != expected[j]:
            raise AssertionError("recovered the wrong key")

    results: dict[str, Any] = {}
    for name, operation in (
        ("p256_check", p256_check),
        ("p256_verify", p256_verify),
        ("secp256k1_recover", k1_recover),
    ):
        rate = _rate(operation, seconds)
        results[f"{name}_per_s"] = rate["per_s"]
        results[f"{name}_wall_per_s"] = rate["wall_per_s"]
    import cryptography

    results["versions"] = {
        "cryptography": cryptography.__version__,
        "openssl": _openssl_version(),
        "eth_keys_backend": "coincurve",
    }
    return results


def _openssl_version() -> str:
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        return backend.openssl_version_text()
    except Exception:  # noqa: BLE001  # informative only
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signatures", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per figure (default: 2)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/signatures.json"))
    args = parser.parse_args(argv)
    result = measure(args.seconds)
    for key, value in result.items():
        print(f"{key:>28}: {value:,}" if isinstance(value, int) else f"{key:>28}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
