"""The trusted-attendee presale of a tier: the rule (which of the organiser's earlier events count, and
how many), eligibility answers, Merkle snapshots and proofs.

Write paths: `set_rule` (PUT, the organiser) and `take_snapshot` (POST, the organiser). Reads:
`eligibility`, `proof_for`, `snapshot_detail`.

Sources. Eligibility now is read from the chain (`hasAttended` per listed event, at the head): a rule lists
a handful of events, and the answer is then exactly what the contract's badge check says, with no lag (the
indexer's `badges` table trails the head by its confirmations and is empty when the indexer is off). A
snapshot is computed by `ticketkit.presale.take_snapshot` at a block, from the chain only, so anyone can
recompute its root; the gateway stores the rule it used (badge contract, badge event ids, k) beside it.

Publishing a root needs the organiser's admin key, which the gateway never holds: a snapshot answer carries
the CLI command that recomputes it at the same block, checks the root and sets it on the tier.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import ticketkit as tk

from ..errors import NotFound, Unprocessable
from ..models import (
    Event,
    Organiser,
    PresaleEligibility,
    PresaleEventRef,
    PresaleRule,
    PresaleRuleCreate,
    PresaleSnapshot,
    Tier,
    utcnow,
)

ZERO_ROOT = "0x" + "00" * 32


# ---------------------------------------------------------------- lookups


def public_event(*, session: Session, event_id: uuid.UUID) -> Event:
    """Any registered event (for the public reads)."""
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event", code="event_not_found")
    return event


def _require_tier(session: Session, event: Event, tier_id: int) -> None:
    found = session.exec(select(Tier).where(Tier.event_id == event.id, Tier.tier_id == tier_id)).first()
    if found is None:
        raise NotFound(f"the event has no tier {tier_id}", code="tier_not_found")


def get_rule(*, session: Session, event: Event, tier_id: int) -> PresaleRule:
    _require_tier(session, event, tier_id)
    rule = session.exec(
        select(PresaleRule).where(PresaleRule.event_id == event.id, PresaleRule.tier_id == tier_id)
    ).first()
    if rule is None:
        raise NotFound(f"tier {tier_id} has no presale rule", code="presale_rule_not_found")
    return rule


def rule_events(*, session: Session, rule: PresaleRule) -> list[PresaleEventRef]:
    """The rule's events with their names and badge event ids, in the rule's order."""
    refs = []
    for event_id, badge_id in zip(json.loads(rule.event_ids), json.loads(rule.badge_event_ids)):
        event = session.get(Event, uuid.UUID(event_id))
        refs.append(
            PresaleEventRef(
                event_id=uuid.UUID(event_id), name=event.name if event else None, badge_event_id=badge_id
            )
        )
    return refs


# ---------------------------------------------------------------- the rule (write path)


def _listed_events(session: Session, organiser: Organiser, event: Event, ids: list[uuid.UUID]) -> list[Event]:
    if len(set(ids)) != len(ids):
        raise Unprocessable("an event is listed twice", code="presale_duplicate_event")
    listed = []
    for event_id in ids:
        found = session.get(Event, event_id)
        if found is None or found.organiser_id != organiser.id:  # someone else's looks like unknown
            raise Unprocessable(
                f"{event_id} is not one of your events", code="presale_event_not_own", event_id=str(event_id)
            )
        if found.id == event.id:
            raise Unprocessable(
                "an event cannot count towards its own presale",
                code="presale_event_is_this_event",
                event_id=str(event_id),
            )
        listed.append(found)
    return listed


def _last_n(session: Session, chain: tk.Chain, organiser: Organiser, event: Event, n: int) -> list[Event]:
    """The organiser's n events on this event's badge contract that start (on chain) latest before it."""
    start = tk.Collection(chain, event.collection_address).event_info()["start_time"]
    others = session.exec(
        select(Event).where(
            Event.organiser_id == organiser.id,
            Event.id != event.id,
            Event.chain_id == event.chain_id,
            Event.badge_address == event.badge_address,
        )
    ).all()
    starts = [
        (tk.Collection(chain, other.collection_address).event_info()["start_time"], other) for other in others
    ]
    earlier = sorted(
        (pair for pair in starts if pair[0] < start),
        key=lambda pair: (pair[0], pair[1].created_at),
        reverse=True,
    )
    return [other for _, other in earlier[:n]]


def set_rule(
    *,
    session: Session,
    chain: tk.Chain,
    organiser: Organiser,
    event: Event,
    tier_id: int,
    data: PresaleRuleCreate,
) -> PresaleRule:
    """The only write path for presale rules: validates, resolves `last_n`, and replaces the tier's rule."""
    _require_tier(session, event, tier_id)
    if data.kind == "events" and (not data.event_ids or data.n is not None):
        raise Unprocessable(
            "kind `events` takes a non-empty `event_ids` and no `n`", code="presale_rule_invalid"
        )
    if data.kind == "last_n" and (data.n is None or data.event_ids is not None):
        raise Unprocessable("kind `last_n` takes `n` and no `event_ids`", code="presale_rule_invalid")
    if event.badge_address is None:
        raise Unprocessable(
            "this event's collection has no attendance badge, so no badge can count",
            code="presale_needs_badge",
        )
    if data.kind == "events":
        listed = _listed_events(session, organiser, event, list(data.event_ids or []))
    else:
        listed = _last_n(session, chain, organiser, event, data.n or 0)
    badge = tk.Badge(chain, event.badge_address)
    badge_ids = []
    for other in listed:
        same_badge = other.badge_address == event.badge_address
        badge_id = badge.event_id_of(other.collection_address) if same_badge else 0
        if badge_id == 0:
            raise Unprocessable(
                f"{other.id} has no badge registration on this event's badge contract",
                code="presale_event_no_badge",
                event_id=str(other.id),
            )
        badge_ids.append(badge_id)
    if data.min_events > len(listed):
        raise Unprocessable(
            f"min_events {data.min_events} is more than the {len(listed)} events that count",
            code="presale_min_events_above_count",
            min_events=data.min_events,
            event_count=len(listed),
        )
    values: dict[str, Any] = {
        "kind": data.kind,
        "n": data.n,
        "min_events": data.min_events,
        "event_ids": json.dumps([str(other.id) for other in listed]),
        "badge_event_ids": json.dumps(badge_ids),
    }
    for _ in range(2):  # a concurrent first PUT may insert between our read and our insert: then update it
        found = session.exec(
            select(PresaleRule).where(PresaleRule.event_id == event.id, PresaleRule.tier_id == tier_id)
        ).first()
        if found is None:
            rule = PresaleRule(event_id=event.id, tier_id=tier_id, **values)
        else:
            rule = found
            for key, value in values.items():
                setattr(rule, key, value)
            rule.updated_at = utcnow()
        session.add(rule)
        try:
            session.commit()
            break
        except IntegrityError:
            session.rollback()
    session.refresh(rule)
    return rule


# ---------------------------------------------------------------- eligibility (read)


def _snapshot_addresses(snapshot: PresaleSnapshot) -> list[str]:
    return json.loads(snapshot.addresses)


def eligibility(
    *, session: Session, chain: tk.Chain, event: Event, tier_id: int, addresses: list[str]
) -> PresaleEligibility:
    """The answer for the first of `addresses` that is eligible (else the one with the most badges): a fan
    asks for their custodial address and their linked wallet, and buys with the one that passes."""
    rule = get_rule(session=session, event=event, tier_id=tier_id)
    refs = rule_events(session=session, rule=rule)
    badge = tk.Badge(chain, event.badge_address or "")
    snapshot = current_snapshot(session=session, chain=chain, event=event, tier_id=tier_id)
    best: PresaleEligibility | None = None
    for address in addresses:
        counted: list[PresaleEventRef] = []
        missing: list[PresaleEventRef] = []
        for ref in refs:
            (counted if badge.has_attended(address, ref.badge_event_id) else missing).append(ref)
        in_snapshot = None if snapshot is None else address in _snapshot_addresses(snapshot)
        answer = PresaleEligibility(
            address=address,
            eligible=len(counted) >= rule.min_events,
            min_events=rule.min_events,
            counted=counted,
            missing=missing,
            in_snapshot=in_snapshot,
        )
        if best is None or (answer.eligible, len(answer.counted)) > (best.eligible, len(best.counted)):
            best = answer
    assert best is not None
    return best


# ---------------------------------------------------------------- snapshots (write path) and proofs (read)


def _onchain_root(chain: tk.Chain, event: Event, tier_id: int) -> str:
    return "0x" + tk.Collection(chain, event.collection_address).tier(tier_id).presale_root.hex()


def is_published(*, chain: tk.Chain, event: Event, snapshot: PresaleSnapshot) -> bool:
    """Whether the tier's on-chain presaleRoot is this snapshot's root (an empty one has nothing to
    publish)."""
    return snapshot.root != ZERO_ROOT and _onchain_root(chain, event, snapshot.tier_id) == snapshot.root


def publish_command(*, event: Event, snapshot: PresaleSnapshot) -> str:
    """The organiser's command: recompute at the same block, refuse another root, publish with the badge
    rule."""
    ids = ",".join(str(i) for i in json.loads(snapshot.badge_event_ids))
    return (
        f"ticketkit presale-snapshot {event.collection_address} --chain-id {event.chain_id} "
        f"--tier {snapshot.tier_id} --min-events {snapshot.min_events} --events {ids} "
        f"--block {snapshot.block} "
        f"--expect-root {snapshot.root} --publish --ends <end of the presale, ISO 8601>"
    )


def take_snapshot(
    *, session: Session, chain: tk.Chain, event: Event, tier_id: int, block: int | None
) -> PresaleSnapshot:
    """The only write path for snapshots: the rule's eligible set at `block` (default: the head), stored."""
    rule = get_rule(session=session, event=event, tier_id=tier_id)
    if event.badge_address is None:  # a rule exists only for events with a badge; kept for type narrowing
        raise Unprocessable("this event has no attendance badge", code="presale_needs_badge")
    head = chain.w3.eth.block_number
    if block is not None and block > head:
        raise Unprocessable(
            f"block {block} is not mined yet (head {head})", code="block_not_mined", head=head
        )
    snap = tk.presale.take_snapshot(
        chain,
        event.badge_address,
        json.loads(rule.badge_event_ids),
        rule.min_events,
        head if block is None else block,
    )
    snapshot = PresaleSnapshot(
        event_id=event.id,
        tier_id=tier_id,
        block=snap.block,
        root="0x" + snap.root.hex(),
        badge_address=snap.rule.badge,
        min_events=snap.rule.min_events,
        badge_event_ids=json.dumps(list(snap.rule.event_ids)),
        addresses=json.dumps(list(snap.addresses)),
    )
    session.add(snapshot)
    session.commit()
    session.refresh(snapshot)
    return snapshot


def current_snapshot(
    *, session: Session, chain: tk.Chain, event: Event, tier_id: int
) -> PresaleSnapshot | None:
    """The snapshot proofs are served from: the latest one whose root is on chain, else the latest one."""
    snapshots = session.exec(
        select(PresaleSnapshot)
        .where(PresaleSnapshot.event_id == event.id, PresaleSnapshot.tier_id == tier_id)
        .order_by(col(PresaleSnapshot.created_at).desc())
    ).all()
    if not snapshots:
        return None
    onchain = _onchain_root(chain, event, tier_id)
    return next((s for s in snapshots if s.root == onchain and s.root != ZERO_ROOT), snapshots[0])


def snapshot_detail(*, session: Session, chain: tk.Chain, event: Event, tier_id: int) -> PresaleSnapshot:
    _require_tier(session, event, tier_id)
    snapshot = current_snapshot(session=session, chain=chain, event=event, tier_id=tier_id)
    if snapshot is None:
        raise NotFound(f"tier {tier_id} has no presale snapshot", code="snapshot_not_found")
    return snapshot


@dataclass(frozen=True)
class Proof:
    snapshot: PresaleSnapshot
    address: str
    proof: list[bytes]


def proof_for(
    *, session: Session, chain: tk.Chain, event: Event, tier_id: int, addresses: list[str]
) -> Proof:
    """The proof of the first of `addresses` listed in the current snapshot; 404 `not_in_snapshot` if none
    is."""
    snapshot = snapshot_detail(session=session, chain=chain, event=event, tier_id=tier_id)
    listed = _snapshot_addresses(snapshot)
    for address in addresses:
        if to_checksum_address(address) in listed:
            return Proof(snapshot, address, tk.presale.merkle_proof(listed, address))
    raise NotFound(
        "not in the presale snapshot", code="not_in_snapshot", block=snapshot.block, root=snapshot.root
    )
