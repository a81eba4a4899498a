"""The gate's decision rules, once: one ordered list (`ORDER`) over what is known of a ticket (`TicketState`)
with its parameters (`Rules`). Pure: no database, no clock.

The online check and the sync of offline scans (gateway/services/gate.py) gather a TicketState from the
database and call `decide`; a snapshot carries `Rules.as_json()` (the order and every parameter) and each
ticket's state, and the scanner page (gateway/static/offline.js) runs the same rules, in the order the
snapshot names, over them. tests/gateway/gate_vectors.json holds codes with their expected answers; the Python
tests and the browser tests both run it (docs/gate.md, "The rule list").

The first rule that applies refuses, with its name as the reason (`GateReason`: the names, in order):

    malformed_code     not exactly a TK1 code
    unknown_ticket     (online) no such ticket
    wrong_event        (online) a ticket of another event
    not_in_list        (offline) not in this gate's list, or listed with no phone linked when the list was
                       made: unknowable offline. Policy `offline_unlisted`: refuse, or admit a listed ticket
                       unverified and reconcile at sync (the sync checks the code against every key)
    no_device_key      (online) no phone linked to the ticket
    bad_signature      not signed by the ticket's phone key
    expired_code       a window other than the gate's own +- `drift_windows`
    cancelled          the event was cancelled, or the ticket refunded
    not_owner          the ticket changed hands after its phone was linked
    no_exit            an exit scan, but the ticket's policy (its tier's, else the event's) has no re-entry
    not_inside         an exit scan of a ticket that is not inside
    not_valid_today    a day pass on a day it is not valid for (the event's time zone)
    already_checked_in single: admitted before; reentry: inside (no exit since the last entry);
                       days: entered today
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import codes

__all__ = [
    "CHECKED_IN",
    "ENTRY",
    "EXIT",
    "FIELDS",
    "GENUINE",
    "HOLDER_CHANGED",
    "ORDER",
    "POLICIES",
    "REFUNDED",
    "Decision",
    "GateReason",
    "Rules",
    "TicketState",
    "day_of",
    "decide",
    "list_id",
    "state_from_snapshot",
]


# Each reason has its predicate in `_RULES` below, which must list them in this order (checked at import).
class GateReason(StrEnum):
    """Why a gate refused a scan: the rules' names, in the order they are checked (docs/gate.md)."""

    malformed_code = "malformed_code"
    unknown_ticket = "unknown_ticket"
    wrong_event = "wrong_event"
    not_in_list = "not_in_list"
    no_device_key = "no_device_key"
    bad_signature = "bad_signature"
    expired_code = "expired_code"
    cancelled = "cancelled"
    not_owner = "not_owner"
    no_exit = "no_exit"
    not_inside = "not_inside"
    not_valid_today = "not_valid_today"
    already_checked_in = "already_checked_in"


ENTRY, EXIT = "entry", "exit"
POLICIES = ("single", "reentry", "days")
UNLISTED = ("refuse", "admit")


@dataclass(frozen=True, slots=True)
class Rules:
    """The parameters of the rules, per event (carried in the snapshot)."""

    window_seconds: int = codes.WINDOW_SECONDS
    drift_windows: int = codes.DRIFT_WINDOWS
    entry_policy: str = "single"  # single | reentry | days
    days: tuple[str, ...] = ()  # days: the ISO dates a pass is valid on, in `timezone`
    timezone: str = "UTC"  # IANA name: the event's
    offline_unlisted: str = "refuse"  # refuse | admit
    tier_policies: tuple[tuple[int, str], ...] = ()  # (tier_id, policy): a tier's own entry policy

    def policy_for(self, tier_id: int | None) -> str:
        """The entry policy of a ticket of `tier_id`: its tier's, else the event's."""
        for tier, policy in self.tier_policies:
            if tier == tier_id:
                return policy
        return self.entry_policy

    @property
    def policies(self) -> set[str]:
        return {self.entry_policy, *(policy for _, policy in self.tier_policies)}

    def as_json(self) -> dict:
        return {
            "order": list(ORDER),
            "window_seconds": self.window_seconds,
            "drift_windows": self.drift_windows,
            "entry_policy": self.entry_policy,
            "days": list(self.days),
            "timezone": self.timezone,
            "offline_unlisted": self.offline_unlisted,
            "tier_policies": {str(tier): policy for tier, policy in self.tier_policies},
        }

    @classmethod
    def from_json(cls, data: dict) -> Rules:
        return cls(
            window_seconds=data["window_seconds"],
            drift_windows=data["drift_windows"],
            entry_policy=data["entry_policy"],
            days=tuple(data["days"]),
            timezone=data["timezone"],
            offline_unlisted=data["offline_unlisted"],
            tier_policies=tuple(sorted((int(k), v) for k, v in data.get("tier_policies", {}).items())),
        )


@dataclass(frozen=True, slots=True)
class TicketState:
    """What the gate knows of one ticket when it decides."""

    id: uuid.UUID
    event_matches: bool = True
    tier_id: int | None = None
    device_keys: tuple[str, ...] = ()  # online: the active key; sync: every key ever bound; offline: listed
    cancelled: bool = False  # the event cancelled or the ticket refunded
    holder_changed: bool = False
    checked_in_on_chain: bool = False
    entries: int = 0  # admissions at gates (the first is the check-in)
    exits: int = 0
    days_entered: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Decision:
    reason: GateReason | None  # None: admit
    ticket: TicketState | None = None
    unverified: bool = False  # admitted offline with no key to check (policy offline_unlisted admit)

    @property
    def admit(self) -> bool:
        return self.reason is None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/London)") from None


def day_of(unix_time: float, zone: str) -> str:
    """The ISO date of a moment in the time zone `zone`."""
    return datetime.fromtimestamp(unix_time, UTC).astimezone(_zone(zone)).date().isoformat()


def valid_day(text: str) -> str:
    return date.fromisoformat(text).isoformat()


@dataclass(slots=True)
class _Scan:
    rules: Rules
    now: float
    direction: str
    offline: bool
    code: codes.Code | None = None
    ticket: TicketState | None = None
    unverified: bool = False


def _t(s: _Scan) -> TicketState:
    """The scan's ticket, for the rules after the lookup (the rules before them refuse a scan without one)."""
    assert s.ticket is not None
    return s.ticket


def _c(s: _Scan) -> codes.Code:
    """The scan's decoded code, for the rules after `malformed_code`."""
    assert s.code is not None
    return s.code


def _entries(t: TicketState) -> int:
    return max(t.entries, 1 if t.checked_in_on_chain else 0)


def _not_in_list(s: _Scan) -> bool:
    if not s.offline or (s.ticket is not None and s.ticket.device_keys):
        return False
    if s.ticket is not None and s.rules.offline_unlisted == "admit":
        s.unverified = True  # admitted without a signature check: the sync decides
        return False
    return True


def _bad_signature(s: _Scan) -> bool:
    if s.unverified:
        return False
    for text in _t(s).device_keys:
        try:
            if codes.verify_code_signature(codes.load_public_key(text), _c(s)):
                return False
        except codes.CodeError:
            continue
    return True


def _expired(s: _Scan) -> bool:
    current = codes.window_of(s.now, s.rules.window_seconds)
    return abs(_c(s).window - current) > s.rules.drift_windows


def _policy(s: _Scan) -> str:
    return s.rules.policy_for(_t(s).tier_id)


def _already(s: _Scan) -> bool:
    if s.direction != ENTRY:
        return False
    t, policy = _t(s), _policy(s)
    if policy == "reentry":
        return _entries(t) > t.exits
    if policy == "days":
        return day_of(s.now, s.rules.timezone) in t.days_entered
    return _entries(t) > 0


# Each reason's predicate (refuses?), in ORDER. Rules after the ticket's lookup see `s.ticket` set.
_RULES: dict[GateReason, Callable[[_Scan], bool]] = {
    GateReason.malformed_code: lambda s: s.code is None,
    GateReason.unknown_ticket: lambda s: not s.offline and s.ticket is None,
    GateReason.wrong_event: lambda s: not s.offline and not _t(s).event_matches,
    GateReason.not_in_list: _not_in_list,
    GateReason.no_device_key: lambda s: not _t(s).device_keys and not s.unverified,
    GateReason.bad_signature: _bad_signature,
    GateReason.expired_code: _expired,
    GateReason.cancelled: lambda s: _t(s).cancelled,
    GateReason.not_owner: lambda s: _t(s).holder_changed,
    GateReason.no_exit: lambda s: s.direction == EXIT and _policy(s) != "reentry",
    GateReason.not_inside: lambda s: s.direction == EXIT and _entries(_t(s)) <= _t(s).exits,
    GateReason.not_valid_today: lambda s: (
        s.direction == ENTRY and _policy(s) == "days" and day_of(s.now, s.rules.timezone) not in s.rules.days
    ),
    GateReason.already_checked_in: _already,
}
ORDER: tuple[GateReason, ...] = tuple(GateReason)
if tuple(_RULES) != ORDER:  # pragma: no cover - a rule added to one and not the other
    raise RuntimeError("gate_rules: _RULES must give every GateReason a predicate, in GateReason's order")
# What a sync re-checks: is the code genuine.
GENUINE: tuple[GateReason, ...] = ORDER[: ORDER.index(GateReason.expired_code) + 1]


def decide(
    text: str,
    *,
    now: float,
    rules: Rules,
    lookup: Callable[[uuid.UUID], TicketState | None],
    direction: str = ENTRY,
    offline: bool = False,
    only: Sequence[str] = ORDER,
) -> Decision:
    """The gate's answer for the code `text` at unix time `now`: the first rule of `only` (in ORDER's order)
    that refuses, else admit. `lookup` gives the ticket's state (None: no such ticket / not listed)."""
    scan = _Scan(rules, now, direction, offline)
    try:
        scan.code = codes.decode(text)
    except codes.CodeError:
        return Decision(GateReason.malformed_code)
    scan.ticket = lookup(scan.code.ticket_id)
    for name, refuses in _RULES.items():
        if name in only and refuses(scan):
            return Decision(name, scan.ticket, scan.unverified)
    return Decision(None, scan.ticket, scan.unverified)


# ---- the snapshot's compact ticket list (docs/gate.md): one array per ticket, keyed by `list_id`
HOLDER_CHANGED, CHECKED_IN, REFUNDED = 1, 2, 4  # the flags' bits
FIELDS = ("id", "token_id", "tier_id", "device_key", "flags", "entries", "exits", "days")


def list_id(ticket_id: uuid.UUID) -> str:
    """A ticket's id in a snapshot: base64url of its UUID's first 8 bytes (11 characters). A code names the
    whole UUID and its signature covers it; the list only has to find the ticket's key."""
    return base64.urlsafe_b64encode(ticket_id.bytes[:8])[:11].decode("ascii")


def state_from_snapshot(
    row: list, ticket_id: uuid.UUID, *, cancelled: bool = False, local: Sequence[dict] = ()
) -> TicketState:
    """A snapshot's ticket (its array) as a TicketState, as the scanner page reads it: `cancelled` is the
    snapshot's event-wide flag, `local` the gate's own records since ({ticket_id, direction, day})."""
    flags = row[4]
    mine = [r for r in local if r["ticket_id"] == str(ticket_id)]
    entries = row[5] if len(row) > 5 else (1 if flags & CHECKED_IN else 0)
    return TicketState(
        id=ticket_id,
        tier_id=row[2],
        device_keys=(row[3],) if row[3] else (),
        cancelled=cancelled or bool(flags & REFUNDED),
        holder_changed=bool(flags & HOLDER_CHANGED),
        entries=entries + sum(r["direction"] == ENTRY for r in mine),
        exits=(row[6] if len(row) > 6 else 0) + sum(r["direction"] == EXIT for r in mine),
        days_entered=frozenset(row[7] if len(row) > 7 else ()) | {r["day"] for r in mine if r.get("day")},
    )
