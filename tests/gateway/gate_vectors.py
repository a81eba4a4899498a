"""Writes tests/gateway/gate_vectors.json: the gate's shared test vectors, codes with the answers the rule
list (gateway/core/gate_rules.py) gives offline from a snapshot, and online where it differs. The Python tests
(test_gate_rules.py) and the browser (live/test_door_pages.py, offline.js) both run them.

    PYTHONPATH=$PWD .venv/bin/python -m tests.gateway.gate_vectors     # after changing a rule
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from gateway.core import codes, gate_rules
from gateway.core.gate_rules import Rules

PATH = Path(__file__).with_name("gate_vectors.json")
NOW = datetime(2026, 7, 3, 23, 30, 5, tzinfo=UTC).timestamp()  # 4 July 00:30 in London
KEYS = [codes.load_private_key(f"{i + 1:064x}") for i in range(8)]


def _uuid(n: int) -> uuid.UUID:
    return uuid.UUID(int=(n << 96) | n)  # distinct in the first 8 bytes: a list's ticket id


def _ticket(
    n: int, key: int | None, *, holder_changed=False, checked_in=False, refunded=False, tier=0, **entry
) -> list:
    """A list's ticket (docs/gate.md): [id, token_id, tier_id, device_key (compressed), flags,
    entries?...]."""
    flags = (
        (gate_rules.HOLDER_CHANGED * holder_changed)
        | (gate_rules.CHECKED_IN * checked_in)
        | (gate_rules.REFUNDED * refunded)
    )
    row = [
        gate_rules.list_id(_uuid(n)),
        n,
        tier,
        codes.compress_public_key(codes.public_key_text(KEYS[key])) if key is not None else None,
        flags,
    ]
    if entry:
        row += [entry["entries"], entry["exits"], entry.get("days", [])]
    return row


def _code(key: int, n: int, windows: int = 0) -> str:
    return codes.sign_code(KEYS[key], _uuid(n), codes.window_of(NOW) + windows)


def _case(name, code, expect, *, direction="entry", online=None, unverified=False) -> dict:
    case = {"name": name, "code": code, "direction": direction, "expect": expect, "unverified": unverified}
    if online is not None:
        case["online"] = online  # the online answer, where the gateway knows more than a list
    return case


def build() -> dict:
    w = Rules().as_json()
    single = {
        "name": "single entry",
        "rules": w,
        "cancelled": False,
        "tickets": [
            _ticket(1, 0),
            _ticket(2, 1, checked_in=True),
            _ticket(3, 2, holder_changed=True),
            _ticket(4, None),
            _ticket(5, 3, refunded=True),
            _ticket(6, 4),
        ],
        "local": [{"ticket_id": str(_uuid(6)), "direction": "entry", "day": None}],
        "cases": [
            _case("admits", _code(0, 1), None),
            _case("one window early (drift)", _code(0, 1, -1), None),
            _case("one window ahead (drift)", _code(0, 1, 1), None),
            _case("not a code", "TK1." + "A" * 111 + "!", "malformed_code"),
            _case("not a code either", "hello", "malformed_code"),
            _case("not in the list", _code(0, 99), "not_in_list", online="unknown_ticket"),
            _case("listed with no phone", _code(0, 4), "not_in_list", online="no_device_key"),
            _case("another key", _code(5, 1), "bad_signature"),
            _case("screenshot", _code(0, 1, -2), "expired_code"),
            _case("from the future", _code(0, 1, 2), "expired_code"),
            _case("refunded", _code(3, 5), "cancelled"),
            _case("changed hands", _code(2, 3), "not_owner"),
            _case("checked in", _code(1, 2), "already_checked_in"),
            _case("admitted here since the list", _code(4, 6), "already_checked_in"),
            _case("no exits", _code(0, 1), "no_exit", direction="exit"),
        ],
    }
    cancelled = {
        "name": "event cancelled",
        "rules": w,
        "cancelled": True,
        "tickets": [_ticket(1, 0)],
        "local": [],
        "cases": [
            _case("cancelled", _code(0, 1), "cancelled"),
            _case("a bad code is still bad", _code(1, 1), "bad_signature"),
        ],
    }
    unlisted = {
        "name": "offline policy: admit unlisted",
        "rules": w | {"offline_unlisted": "admit"},
        "cancelled": False,
        "tickets": [_ticket(4, None), _ticket(7, 5, checked_in=True)],
        "local": [],
        "cases": [
            _case("listed with no phone", _code(0, 4), None, online="no_device_key", unverified=True),
            _case("not listed at all", _code(0, 99), "not_in_list", online="unknown_ticket"),
            _case("checked in", _code(5, 7), "already_checked_in"),
        ],
    }
    reentry = {
        "name": "re-entry",
        "rules": w | {"entry_policy": "reentry"},
        "cancelled": False,
        "tickets": [
            _ticket(1, 0, entries=0, exits=0),
            _ticket(2, 1, checked_in=True, entries=1, exits=0),
            _ticket(3, 2, checked_in=True, entries=2, exits=2),
            _ticket(4, 3, checked_in=True, entries=1, exits=0),
        ],
        "local": [{"ticket_id": str(_uuid(4)), "direction": "exit", "day": None}],
        "cases": [
            _case("first entry", _code(0, 1), None),
            _case("exit before any entry", _code(0, 1), "not_inside", direction="exit"),
            _case("inside: no second entry", _code(1, 2), "already_checked_in"),
            _case("inside: exit", _code(1, 2), None, direction="exit"),
            _case("out again: back in", _code(2, 3), None),
            _case("out: no second exit", _code(2, 3), "not_inside", direction="exit"),
            _case("went out at this gate since the list", _code(3, 4), None),
            _case("an exit needs a genuine code", _code(5, 2), "bad_signature", direction="exit"),
        ],
    }
    days = {
        "name": "day passes (Europe/London)",
        "rules": w
        | {"entry_policy": "days", "days": ["2026-07-03", "2026-07-04"], "timezone": "Europe/London"},
        "cancelled": False,
        "tickets": [
            _ticket(1, 0, entries=0, exits=0, days=[]),
            _ticket(2, 1, checked_in=True, entries=1, exits=0, days=["2026-07-03"]),
            _ticket(3, 2, checked_in=True, entries=2, exits=0, days=["2026-07-03", "2026-07-04"]),
            _ticket(4, 3, entries=0, exits=0, days=[]),
        ],
        "local": [{"ticket_id": str(_uuid(4)), "direction": "entry", "day": "2026-07-04"}],
        "cases": [
            _case("first day", _code(0, 1), None),
            _case("came yesterday (UTC still says yesterday)", _code(1, 2), None),
            _case("came today", _code(2, 3), "already_checked_in"),
            _case("came today at this gate", _code(3, 4), "already_checked_in"),
            _case("day passes have no exits", _code(1, 2), "no_exit", direction="exit"),
        ],
    }
    off_day = {
        "name": "day passes on another day",
        "rules": w | {"entry_policy": "days", "days": ["2026-07-05"], "timezone": "Europe/London"},
        "cancelled": False,
        "tickets": [_ticket(1, 0, entries=0, exits=0, days=[])],
        "local": [],
        "cases": [
            _case("not valid today", _code(0, 1), "not_valid_today"),
            _case("a screenshot is a screenshot first", _code(0, 1, -2), "expired_code"),
        ],
    }
    per_tier = {
        "name": "a tier's own policy (VIP: re-entry; the event: single)",
        "rules": w | {"tier_policies": {"1": "reentry"}},
        "cancelled": False,
        "tickets": [
            _ticket(1, 0, checked_in=True, entries=1, exits=0),
            _ticket(2, 1, checked_in=True, tier=1, entries=1, exits=1),
            _ticket(3, 2, checked_in=True, tier=1, entries=1, exits=0),
        ],
        "cases": [
            _case("general: in once", _code(0, 1), "already_checked_in"),
            _case("general: no exits", _code(0, 1), "no_exit", direction="exit"),
            _case("VIP: out, back in", _code(1, 2), None),
            _case("VIP: inside, exit", _code(2, 3), None, direction="exit"),
            _case("VIP: inside, no second entry", _code(2, 3), "already_checked_in"),
        ],
        "local": [],
    }
    suites = [single, cancelled, unlisted, reentry, days, off_day, per_tier]
    for suite in suites:
        suite["tiers"] = {"0": "General", "1": "VIP"}
    return {"now": NOW, "suites": suites}


if __name__ == "__main__":
    PATH.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {PATH}")
