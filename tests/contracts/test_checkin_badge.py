"""Check-in at the gate and the soulbound attendance badge (ERC-721 + ERC-5192), on a real anvil."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

import ticketkit as tk
from ticketkit import errors

GATE_ROLE = "GATE_ROLE"
ERC5192_ID = bytes.fromhex("b45a3c0e")
ERC721_ID = bytes.fromhex("80ac58cd")
ERC165_ID = bytes.fromhex("01ffc9a7")


def _badge_of(collection: tk.Collection) -> tuple[tk.Badge, int]:
    badge = collection.badge()
    assert badge is not None
    return badge, badge.event_id_of(collection.address)


def _checkin_receipt(chain, collection, ids, sender):
    return chain.send(collection.contract.functions.checkIn(list(ids)), sender)


# ------------------------------------------------------------------ check-in


def test_only_gate_role_checks_in(chain, event, organiser, fans):
    alice, stranger = fans[0], fans[1]
    [token] = event.buy(0, 1, sender=alice)
    for caller in (alice, stranger):
        with pytest.raises(errors.AccessControlUnauthorizedAccount) as info:
            event.check_in([token], sender=caller)
        assert info.value.account == caller.address
        assert info.value.neededRole == event.role(GATE_ROLE)
    assert not event.is_used(token)

    # A gate staffer granted the role (not the admin) can check in.
    gate = fans[8]
    event.grant_role(GATE_ROLE, gate.address, sender=organiser)
    admitted, skipped = event.check_in([token], sender=gate)
    assert admitted == [token] and skipped == {}


def test_admitted_tickets_are_used_with_events_and_badge_in_same_tx(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    a = event.buy(0, 2, sender=alice)
    [b] = event.buy(1, 1, sender=bob)
    badge, event_id = _badge_of(event)
    assert not badge.has_attended(alice.address, event_id)

    receipt = _checkin_receipt(chain, event, [a[0], b], organiser)
    checked = event.contract.events.CheckedIn().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["tokenId"], e["args"]["holder"]) for e in checked] == [
        (a[0], alice.address),
        (b, bob.address),
    ]
    assert event.is_used(a[0]) and event.is_used(b) and not event.is_used(a[1])
    assert event.ticket(a[0]).used

    # The badges were minted by this very transaction (Transfer from zero + Locked, same receipt).
    minted = badge.contract.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert {(e["args"]["from"], e["args"]["to"], e["args"]["id"]) for e in minted} == {
        (tk.contracts.ZERO, alice.address, badge.badge_id(event_id, alice.address)),
        (tk.contracts.ZERO, bob.address, badge.badge_id(event_id, bob.address)),
    }
    locked = badge.contract.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert {e["args"]["tokenId"] for e in locked} == {
        badge.badge_id(event_id, alice.address),
        badge.badge_id(event_id, bob.address),
    }
    assert badge.has_attended(alice.address, event_id) and badge.has_attended(bob.address, event_id)
    assert badge.contract.functions.ownerOf(badge.badge_id(event_id, bob.address)).call() == bob.address


def test_duplicates_and_unknown_ids_are_skipped_not_reverted(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    t1, t2 = event.buy(0, 2, sender=alice)
    [t3] = event.buy(0, 1, sender=bob)
    unknown = 10_000

    admitted, skipped = event.check_in([t1, t1, unknown, t2], sender=organiser)
    assert admitted == [t1, t2]
    assert skipped == {t1: tk.SKIP_ALREADY_USED, unknown: tk.SKIP_NOT_FOUND}

    # Across batches: what was admitted before is skipped now, the new ticket goes through.
    admitted, skipped = event.check_in([t2, t3, t1], sender=organiser)
    assert admitted == [t3]
    assert skipped == {t2: tk.SKIP_ALREADY_USED, t1: tk.SKIP_ALREADY_USED}

    # A batch of nothing but skips still succeeds and admits nobody.
    admitted, skipped = event.check_in([t1, unknown + 1], sender=organiser)
    assert admitted == [] and skipped == {t1: tk.SKIP_ALREADY_USED, unknown + 1: tk.SKIP_NOT_FOUND}


def test_two_tickets_one_holder_one_badge(chain, event, organiser, fans):
    alice = fans[0]
    t1, t2, t3 = event.buy(0, 3, sender=alice)
    badge, event_id = _badge_of(event)
    event.check_in([t1, t2], sender=organiser)
    assert badge.balance_of(alice.address) == 1
    event.check_in([t3], sender=organiser)  # a later batch with the same holder
    assert badge.balance_of(alice.address) == 1
    assert badge.attended_count(alice.address, [event_id]) == 1


def test_collection_without_badge_checks_in(chain, make_event, organiser, fans):
    plain = make_event(badge=False)
    assert plain.badge() is None
    [token] = plain.buy(0, 1, sender=fans[0])
    admitted, skipped = plain.check_in([token], sender=organiser)
    assert admitted == [token] and skipped == {}
    assert plain.is_used(token)


def test_check_in_after_cancel_refused(chain, event, organiser, fans):
    [token] = event.buy(0, 1, sender=fans[0])
    event.cancel_event(sender=organiser)
    with pytest.raises(errors.EventIsCancelled):
        event.check_in([token], sender=organiser)


def test_used_ticket_never_moves(chain, make_event, organiser, fans):
    gifts = make_event(gifts_allowed=True)
    alice, bob = fans[0], fans[1]
    [token] = gifts.buy(0, 1, sender=alice)
    gifts.list_for_resale(token, gifts.resale_cap_of(token), sender=alice)
    gifts.check_in([token], sender=organiser)
    with pytest.raises(errors.TicketAlreadyUsed):
        gifts.gift(token, bob.address, sender=alice)
    with pytest.raises(errors.TicketAlreadyUsed):
        gifts.buy_resale(token, sender=bob, value=gifts.resale_cap_of(token))
    with pytest.raises(errors.TicketAlreadyUsed):
        gifts.list_for_resale(token, 1, sender=alice)
    assert gifts.owner_of(token) == alice.address
    assert gifts.ticket(token).listed_by is None


# ------------------------------------------------------------------ the badge token


@pytest.fixture()
def checked_in(event, organiser, fans):
    """alice checked in at `event`: (badge, event id, alice, alice's badge id)."""
    alice = fans[0]
    [token] = event.buy(0, 1, sender=alice)
    event.check_in([token], sender=organiser)
    badge, event_id = _badge_of(event)
    return badge, event_id, alice, badge.badge_id(event_id, alice.address)


def test_badge_interfaces(checked_in):
    badge = checked_in[0]
    supports = badge.contract.functions.supportsInterface
    assert supports(ERC5192_ID).call()
    assert supports(ERC721_ID).call()
    assert supports(ERC165_ID).call()
    assert not supports(bytes.fromhex("ffffffff")).call()


def test_badge_locked(checked_in):
    badge, event_id, _alice, badge_id = checked_in
    assert badge.call("locked", badge_id) is True
    unknown = badge.badge_id(event_id, "0x" + "ab" * 20)
    with pytest.raises(errors.BadgeDoesNotExist) as info:
        badge.call("locked", unknown)
    assert info.value.tokenId == unknown


def test_every_transfer_path_is_soulbound(chain, checked_in, fans):
    badge, _, alice, badge_id = checked_in
    bob = fans[1]
    f = badge.contract.functions
    attempts = [
        f.transferFrom(alice.address, bob.address, badge_id),
        f.safeTransferFrom(alice.address, bob.address, badge_id),
        f.safeTransferFrom(alice.address, bob.address, badge_id, b"hello"),
        f.approve(bob.address, badge_id),
    ]
    for call in attempts:
        with pytest.raises(errors.BadgeIsSoulbound) as info:
            chain.send(call, alice)
        assert info.value.tokenId == badge_id
    with pytest.raises(errors.BadgeIsSoulbound):
        chain.send(f.setApprovalForAll(bob.address, True), alice)
    assert f.ownerOf(badge_id).call() == alice.address
    assert badge.balance_of(bob.address) == 0


def test_only_registered_issuers_mint(chain, checked_in, organiser, fans):
    badge, _event_id, _alice, _ = checked_in
    for caller in (fans[1], organiser):
        with pytest.raises(errors.NotAnIssuer) as info:
            chain.send(badge.contract.functions.issue([fans[2].address]), caller)
        assert info.value.caller == caller.address
    assert badge.balance_of(fans[2].address) == 0


def test_registering_same_issuer_twice_refused(chain, event, organiser):
    badge, event_id = _badge_of(event)
    assert event_id != 0
    with pytest.raises(errors.IssuerAlreadyRegistered) as info:
        badge.register_issuer(event.address, sender=organiser)
    assert info.value.issuer == event.address and info.value.eventId == event_id


def test_revoke_burns_and_is_never_reminted(chain, event, organiser, fans):
    alice = fans[0]
    t1, t2 = event.buy(0, 2, sender=alice)
    badge, event_id = _badge_of(event)
    badge_id = badge.badge_id(event_id, alice.address)
    event.check_in([t1], sender=organiser)
    assert badge.attended_count(alice.address, [event_id]) == 1

    badge.revoke(badge_id, sender=organiser)
    assert not badge.has_attended(alice.address, event_id)
    assert badge.attended_count(alice.address, [event_id]) == 0
    assert badge.balance_of(alice.address) == 0
    with pytest.raises(errors.BadgeDoesNotExist):
        badge.call("locked", badge_id)

    # Another ticket of the same holder is admitted, but the revoked badge is not minted again.
    admitted, _ = event.check_in([t2], sender=organiser)
    assert admitted == [t2]
    assert not badge.has_attended(alice.address, event_id)
    assert badge.balance_of(alice.address) == 0

    # Revoking what no longer exists is refused.
    with pytest.raises(errors.BadgeDoesNotExist):
        badge.revoke(badge_id, sender=organiser)


def test_non_admin_cannot_revoke(chain, checked_in, fans):
    badge, event_id, alice, badge_id = checked_in
    for caller in (alice, fans[1]):
        with pytest.raises(errors.AccessControlUnauthorizedAccount) as info:
            badge.revoke(badge_id, sender=caller)
        assert info.value.account == caller.address
    assert badge.has_attended(alice.address, event_id)


def test_attended_count_over_several_events(chain, platform, make_event, organiser, fans):
    alice, bob = fans[0], fans[1]
    badge = platform.create_badge("Series", "SER", salt="series-badge", sender=organiser)
    events = [make_event(badge=badge) for _ in range(3)]
    ids = [badge.event_id_of(e.address) for e in events]
    assert len(set(ids)) == 3 and 0 not in ids

    for e in events[:2]:
        [token] = e.buy(0, 1, sender=alice)
        e.check_in([token], sender=organiser)
    [token] = events[2].buy(0, 1, sender=bob)
    events[2].check_in([token], sender=organiser)

    assert badge.attended_count(alice.address, ids) == 2
    assert badge.attended_count(alice.address, ids[:1]) == 1
    assert badge.attended_count(alice.address, ids[2:]) == 0
    assert badge.attended_count(bob.address, ids) == 1
    assert badge.attended_count(alice.address, [999]) == 0
    assert badge.balance_of(alice.address) == 2


# ------------------------------------------------------------------ the factory


def test_collection_with_foreign_badge_refused(chain, platform, make_event, organiser, fans):
    mallory = fans[5]
    # organiser's badge: mallory is not its admin.
    badge = platform.create_badge("Mine", "MINE", salt="not-yours", sender=organiser)
    now = chain.timestamp()
    config = tk.EventConfig("Fake", "FAKE", start_time=now + 86400, transfer_lock_time=now + 3600)
    tiers = [tk.TierConfig("GA", face_value=10**15, supply=5, sale_start=now - 1, sale_end=now + 3600)]
    with pytest.raises(errors.NotBadgeAdmin) as info:
        platform.create_collection(config, tiers, salt="fake", badge=badge, sender=mallory)
    assert info.value.badge == badge.address and info.value.caller == mallory.address


def test_create_with_used_salt_is_idempotent(chain, platform, organiser):
    first = platform.create_badge("Badges", "BDG", salt="same-salt", sender=organiser)
    second = platform.create_badge("Other", "OTH", salt="same-salt", sender=organiser)
    assert first.address == second.address
    assert first.call("name") == "Badges"  # the first one, untouched

    now = chain.timestamp()
    config = tk.EventConfig("Gig", "GIG", start_time=now + 86400, transfer_lock_time=now + 3600)
    tiers = [tk.TierConfig("GA", face_value=10**15, supply=5, sale_start=now - 1, sale_end=now + 3600)]
    c1 = platform.create_collection(config, tiers, salt="same-event", badge=first, sender=organiser)
    c2 = platform.create_collection(config, tiers, salt="same-event", badge=first, sender=organiser)
    assert c1.address == c2.address
    assert first.event_id_of(c1.address) == 1 and first.call("eventCount") == 1

    # The same salt for another organiser is another address.
    other = platform.create_badge("Badges", "BDG", salt="same-salt", sender=chain.account(7))
    assert other.address != first.address

    # Straight to the factory (not through Platform) a reused salt cannot deploy twice.
    with pytest.raises(errors.error_class("FailedDeployment")):
        chain.send(
            platform.contract.functions.createBadge("X", "X", "", tk.contracts.salt_bytes("same-salt")),
            organiser,
        )
