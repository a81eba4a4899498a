"""Helpers shared by test modules (plain functions and constants; fixtures live in conftest.py files).

Modules: `ape` (the ape toolchain), `browser` (Chromium, axe), `checkin` (the check-in queue's records and
the chain's), `db` (PostgreSQL databases, rows), `fault_proxy` (FaultProxy), `gate` (gate keys, device keys,
scans), `http` (headers), `images`, `leaks` (secrets in answers and logs), `miner` (blocks on a timer for
anvil with automine off), `resale`, `world` (the hardening world's roles and calls).
"""

ETH = 10**18  # wei
