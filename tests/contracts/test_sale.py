"""Tiers, the primary sale, organiser airdrops and the presale rule, on a real anvil."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3.logs import DISCARD

import ticketkit as tk
from tests.utils import ETH
from ticketkit import errors

DAY = 86400
GENERAL, VIP = 0, 1
GENERAL_PRICE, VIP_PRICE = ETH // 10, ETH // 2


def _tier(chain, *, name="Extra", face_value=ETH // 5, supply=5, start=None, end=None, max_per_wallet=0):
    now = chain.timestamp()
    return tk.TierConfig(
        name,
        face_value=face_value,
        supply=supply,
        sale_start=now - 1 if start is None else start,
        sale_end=now + 20 * DAY if end is None else end,
        max_per_wallet=max_per_wallet,
    )


def _gas_cost(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def _buy_receipt(chain, event, tier_id, quantity, sender, value):
    return chain.send(event.contract.functions.buy(tier_id, quantity), sender, value=value)


# ------------------------------------------------------------------ tier validation


def test_tiers_valid_at_creation_are_stored(chain, make_event):
    now = chain.timestamp()
    event = make_event(
        tiers=[_tier(chain, name="Only", face_value=123, supply=7, start=now, end=now + 1, max_per_wallet=2)]
    )
    assert event.tier_count() == 1
    t = event.tier(0)
    assert (t.name, t.face_value, t.supply, t.minted, t.max_per_wallet, t.sale_start, t.sale_end) == (
        "Only",
        123,
        7,
        0,
        2,
        now,
        now + 1,
    )


def test_zero_supply_refused_at_creation(chain, make_event):
    with pytest.raises(errors.ZeroSupply):
        make_event(tiers=[_tier(chain, supply=0)])


@pytest.mark.parametrize("delta", [0, -1])
def test_sale_window_end_not_after_start_refused_at_creation(chain, make_event, delta):
    now = chain.timestamp()
    with pytest.raises(errors.InvalidSaleWindow) as info:
        make_event(tiers=[_tier(chain, start=now + 100, end=now + 100 + delta)])
    assert (info.value.saleStart, info.value.saleEnd) == (now + 100, now + 100 + delta)


def test_resale_cap_below_face_value_refused(make_event):
    with pytest.raises(errors.ResaleCapBelowFaceValue) as info:
        make_event(resale_cap_bps=9999)
    assert info.value.resaleCapBps == 9999


def test_resale_cap_of_exactly_face_value_allowed(make_event, fans):
    event = make_event(resale_cap_bps=10_000)
    [token] = event.buy(GENERAL, 1, sender=fans[0])
    assert event.event_info()["resale_cap_bps"] == 10_000
    assert event.resale_cap_of(token) == GENERAL_PRICE


def test_add_tier_validates(chain, event, organiser):
    now = chain.timestamp()
    with pytest.raises(errors.ZeroSupply):
        event.add_tier(_tier(chain, supply=0), sender=organiser)
    for end in (now + 50, now + 49):
        with pytest.raises(errors.InvalidSaleWindow) as info:
            event.add_tier(_tier(chain, start=now + 50, end=end), sender=organiser)
        assert (info.value.saleStart, info.value.saleEnd) == (now + 50, end)
    assert event.tier_count() == 2

    tier_id = event.add_tier(_tier(chain, name="Balcony", supply=3), sender=organiser)
    assert tier_id == 2 and event.tier_count() == 3
    assert event.tier(2).name == "Balcony" and event.tier(2).supply == 3


def test_non_admin_cannot_add_or_update_tiers(chain, event, fans):
    stranger = fans[0]
    for call in (
        lambda: event.add_tier(_tier(chain), sender=stranger),
        lambda: event.update_tier(GENERAL, _tier(chain), sender=stranger),
    ):
        with pytest.raises(errors.AccessControlUnauthorizedAccount) as info:
            call()
        assert info.value.account == stranger.address
        assert info.value.neededRole == event.role("DEFAULT_ADMIN_ROLE")
    assert event.tier_count() == 2


def test_update_tier_validates(chain, event, organiser):
    now = chain.timestamp()
    with pytest.raises(errors.ZeroSupply):
        event.update_tier(GENERAL, _tier(chain, supply=0), sender=organiser)
    with pytest.raises(errors.InvalidSaleWindow):
        event.update_tier(GENERAL, _tier(chain, start=now + 10, end=now + 10), sender=organiser)
    with pytest.raises(errors.TierDoesNotExist) as info:
        event.update_tier(7, _tier(chain), sender=organiser)
    assert info.value.tierId == 7


def test_face_value_changes_before_first_ticket_but_then_locks(chain, event, organiser, fans):
    old = event.tier(GENERAL)
    cfg = tk.TierConfig(
        old.name,
        face_value=ETH // 4,
        supply=old.supply,
        sale_start=old.sale_start,
        sale_end=old.sale_end,
        max_per_wallet=old.max_per_wallet,
    )
    event.update_tier(GENERAL, cfg, sender=organiser)
    assert event.tier(GENERAL).face_value == ETH // 4

    event.buy(GENERAL, 1, sender=fans[0])
    with pytest.raises(errors.FaceValueLocked) as info:
        event.update_tier(
            GENERAL,
            tk.TierConfig(
                old.name,
                face_value=ETH // 5,
                supply=old.supply,
                sale_start=old.sale_start,
                sale_end=old.sale_end,
            ),
            sender=organiser,
        )
    assert (info.value.tierId, info.value.minted) == (GENERAL, 1)
    assert event.tier(GENERAL).face_value == ETH // 4

    # Other fields may still change while the face value stays the same.
    event.update_tier(
        GENERAL,
        tk.TierConfig(
            "Renamed",
            face_value=ETH // 4,
            supply=50,
            sale_start=old.sale_start,
            sale_end=old.sale_end,
            max_per_wallet=1,
        ),
        sender=organiser,
    )
    t = event.tier(GENERAL)
    assert (t.name, t.face_value, t.supply, t.max_per_wallet) == ("Renamed", ETH // 4, 50, 1)


def test_face_value_locks_after_airdrop_too(chain, event, organiser, fans):
    event.mint_batch(VIP, [fans[0].address], sender=organiser)
    t = event.tier(VIP)
    with pytest.raises(errors.FaceValueLocked) as info:
        event.update_tier(
            VIP,
            tk.TierConfig(
                t.name,
                face_value=t.face_value + 1,
                supply=t.supply,
                sale_start=t.sale_start,
                sale_end=t.sale_end,
            ),
            sender=organiser,
        )
    assert (info.value.tierId, info.value.minted) == (VIP, 1)


def test_supply_cannot_drop_below_minted(chain, event, organiser, fans):
    event.buy(VIP, 3, sender=fans[0])
    t = event.tier(VIP)

    def cfg(supply):
        return tk.TierConfig(
            t.name, face_value=t.face_value, supply=supply, sale_start=t.sale_start, sale_end=t.sale_end
        )

    with pytest.raises(errors.SupplyBelowMinted) as info:
        event.update_tier(VIP, cfg(2), sender=organiser)
    assert (info.value.tierId, info.value.supply, info.value.minted) == (VIP, 2, 3)
    event.update_tier(VIP, cfg(3), sender=organiser)  # exactly what is minted: allowed
    assert event.tier(VIP).remaining == 0
    with pytest.raises(errors.SoldOut):
        event.buy(VIP, 1, sender=fans[1])


# ------------------------------------------------------------------ buy


def test_buy_at_exact_price(chain, event, fans):
    alice = fans[0]
    before = chain.balance(alice.address)
    contract_before = chain.balance(event.address)
    receipt = _buy_receipt(chain, event, VIP, 2, alice, 2 * VIP_PRICE)
    assert chain.balance(alice.address) == before - 2 * VIP_PRICE - _gas_cost(receipt)
    assert chain.balance(event.address) == contract_before + 2 * VIP_PRICE
    [bought] = event.contract.events.TicketsPurchased().process_receipt(receipt, errors=DISCARD)
    assert bought["args"]["buyer"] == alice.address and bought["args"]["quantity"] == 2
    assert bought["args"]["paid"] == 2 * VIP_PRICE
    first = bought["args"]["firstTokenId"]
    for token in (first, first + 1):
        info = event.ticket(token)
        assert info.owner == alice.address and info.tier_id == VIP and info.face_value == VIP_PRICE
        assert info.paid_on_chain and not info.used and info.listed_by is None
    assert event.tier(VIP).minted == 2


def test_library_buy_returns_consecutive_token_ids(event, fans):
    assert event.buy(GENERAL, 3, sender=fans[0]) == [1, 2, 3]
    assert event.buy(VIP, 1, sender=fans[1]) == [4]
    assert event.total_minted() == 4


def test_excess_payment_refunded(chain, event, fans):
    alice = fans[0]
    before = chain.balance(alice.address)
    contract_before = chain.balance(event.address)
    receipt = _buy_receipt(chain, event, GENERAL, 1, alice, GENERAL_PRICE + ETH)
    assert chain.balance(alice.address) == before - GENERAL_PRICE - _gas_cost(receipt)
    assert chain.balance(event.address) == contract_before + GENERAL_PRICE
    assert event.credit_of(alice.address) == 0


def test_underpayment_refused(chain, event, fans):
    alice = fans[0]
    with pytest.raises(errors.InsufficientPayment) as info:
        event.buy(VIP, 2, sender=alice, value=2 * VIP_PRICE - 1)
    assert (info.value.required, info.value.sent) == (2 * VIP_PRICE, 2 * VIP_PRICE - 1)
    with pytest.raises(errors.InsufficientPayment) as info:
        event.buy(VIP, 1, sender=alice, value=0)
    assert (info.value.required, info.value.sent) == (VIP_PRICE, 0)
    assert event.tier(VIP).minted == 0 and event.balance_of(alice.address) == 0


def test_zero_quantity_refused(event, fans):
    with pytest.raises(errors.ZeroQuantity):
        event.buy(GENERAL, 0, sender=fans[0], value=0)
    with pytest.raises(errors.ZeroQuantity):
        event.buy(VIP, 0, sender=fans[0], value=VIP_PRICE)


def test_per_wallet_cap(event, fans):
    alice, bob = fans[0], fans[1]
    # More than the cap in one go is refused.
    with pytest.raises(errors.WalletCapExceeded) as info:
        event.buy(GENERAL, 5, sender=alice)
    assert (info.value.tierId, info.value.wallet, info.value.maxPerWallet) == (GENERAL, alice.address, 4)
    # Up to the cap across purchases is allowed; one more is not.
    event.buy(GENERAL, 3, sender=alice)
    event.buy(GENERAL, 1, sender=alice)
    with pytest.raises(errors.WalletCapExceeded) as info:
        event.buy(GENERAL, 1, sender=alice)
    assert info.value.wallet == alice.address
    # Caps are per wallet and per tier.
    event.buy(GENERAL, 4, sender=bob)
    event.buy(VIP, 5, sender=alice)  # VIP has no cap
    assert event.balance_of(alice.address) == 9


def _bought_by(event, tier_id, wallet):
    return event.chain.call(event.contract.functions.boughtBy(tier_id, wallet))


def test_wallet_cap_counts_purchases(event, fans):
    alice = fans[0]
    event.buy(GENERAL, 3, sender=alice)
    assert _bought_by(event, GENERAL, alice.address) == 3


def test_wallet_cap_set_later_counts_earlier_purchases(chain, event, organiser, fans):
    # Regression: purchases in an uncapped tier are counted too, so a per-wallet cap introduced
    # later with updateTier (e.g. after a bot rush) binds wallets that already bought.
    alice = fans[0]
    event.buy(VIP, 5, sender=alice)  # VIP has no per-wallet cap yet
    t = event.tier(VIP)
    event.update_tier(
        VIP,
        tk.TierConfig(
            t.name,
            face_value=t.face_value,
            supply=t.supply,
            sale_start=t.sale_start,
            sale_end=t.sale_end,
            max_per_wallet=2,
        ),
        sender=organiser,
    )
    assert _bought_by(event, VIP, alice.address) == 5
    with pytest.raises(errors.WalletCapExceeded) as info:
        event.buy(VIP, 1, sender=alice)
    assert (info.value.tierId, info.value.wallet, info.value.maxPerWallet) == (VIP, alice.address, 2)
    # Another wallet may still buy up to the new cap.
    event.buy(VIP, 2, sender=fans[1])


def test_sold_out(event, fans):
    event.buy(VIP, 8, sender=fans[0])
    with pytest.raises(errors.SoldOut) as info:
        event.buy(VIP, 3, sender=fans[1])
    assert (info.value.tierId, info.value.requested, info.value.remaining) == (VIP, 3, 2)
    event.buy(VIP, 2, sender=fans[1])
    with pytest.raises(errors.SoldOut) as info:
        event.buy(VIP, 1, sender=fans[2])
    assert (info.value.tierId, info.value.requested, info.value.remaining) == (VIP, 1, 0)
    assert event.tier(VIP).minted == 10


def test_sale_window(chain, make_event, fans):
    now = chain.timestamp()
    start, end = now + 1000, now + 5000
    event = make_event(tiers=[_tier(chain, face_value=GENERAL_PRICE, start=start, end=end)])

    with pytest.raises(errors.SaleNotOpen) as info:
        event.buy(0, 1, sender=fans[0])
    assert (info.value.tierId, info.value.saleStart, info.value.saleEnd) == (0, start, end)

    chain.travel_to(start)
    assert event.buy(0, 1, sender=fans[0]) == [1]
    chain.travel_to(end - 100)
    assert event.buy(0, 1, sender=fans[0]) == [2]

    chain.travel_to(end)
    with pytest.raises(errors.SaleNotOpen) as info:
        event.buy(0, 1, sender=fans[1])
    assert (info.value.tierId, info.value.saleStart, info.value.saleEnd) == (0, start, end)


def test_paused_sale_then_unpaused(chain, event, organiser, fans):
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        event.pause(sender=fans[0])
    event.pause(sender=organiser)
    with pytest.raises(errors.EnforcedPause):
        event.buy(GENERAL, 1, sender=fans[0])
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        event.unpause(sender=fans[0])
    event.unpause(sender=organiser)
    assert event.buy(GENERAL, 1, sender=fans[0]) == [1]


def test_cancelled_event_sells_and_mints_nothing(event, organiser, fans):
    event.cancel_event(sender=organiser)
    with pytest.raises(errors.EventIsCancelled):
        event.buy(GENERAL, 1, sender=fans[0])
    with pytest.raises(errors.EventIsCancelled):
        event.mint_batch(GENERAL, [fans[0].address], sender=organiser)
    assert event.total_minted() == 0


def test_unknown_tier(event, fans):
    with pytest.raises(errors.TierDoesNotExist) as info:
        event.buy(2, 1, sender=fans[0], value=ETH)
    assert info.value.tierId == 2
    with pytest.raises(errors.TierDoesNotExist):
        event.tier(2)


# ------------------------------------------------------------------ organiser airdrops


def test_mint_batch_to_distinct_recipients(event, organiser, fans):
    recipients = [f.address for f in fans[:5]]
    ids = event.mint_batch(GENERAL, recipients, sender=organiser)
    assert ids == [1, 2, 3, 4, 5]
    for token, holder in zip(ids, recipients):
        info = event.ticket(token)
        assert info.owner == holder and info.tier_id == GENERAL
        assert not info.paid_on_chain  # airdrops are not refundable on chain
    assert event.tier(GENERAL).minted == 5
    # Airdrops do not count against the per-wallet cap of primary purchases.
    assert event.buy(GENERAL, 4, sender=fans[0]) == [6, 7, 8, 9]


def test_mint_batch_to_one_holder_repeated(event, organiser, fans):
    alice = fans[0]
    ids = event.mint_batch(VIP, [alice.address] * 6, sender=organiser)
    assert ids == [1, 2, 3, 4, 5, 6]
    assert event.balance_of(alice.address) == 6
    assert all(event.owner_of(t) == alice.address for t in ids)


def test_only_minters_mint(event, organiser, fans):
    stranger = fans[0]
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as info:
        event.mint_batch(GENERAL, [stranger.address], sender=stranger)
    assert info.value.account == stranger.address and info.value.neededRole == event.role("MINTER_ROLE")
    event.grant_role("MINTER_ROLE", stranger.address, sender=organiser)
    assert event.mint_batch(GENERAL, [fans[1].address], sender=stranger) == [1]


def test_mint_batch_respects_supply(event, organiser, fans):
    many = [fans[i % 9].address for i in range(11)]
    with pytest.raises(errors.SoldOut) as info:
        event.mint_batch(VIP, many, sender=organiser)
    assert (info.value.tierId, info.value.requested, info.value.remaining) == (VIP, 11, 10)
    with pytest.raises(errors.ZeroQuantity):
        event.mint_batch(VIP, [], sender=organiser)
    event.buy(VIP, 1, sender=fans[0])
    assert len(event.mint_batch(VIP, many[:9], sender=organiser)) == 9
    with pytest.raises(errors.SoldOut) as info:
        event.mint_batch(VIP, many[:1], sender=organiser)
    assert (info.value.requested, info.value.remaining) == (1, 0)


# ------------------------------------------------------------------ presale: badges


@pytest.fixture()
def badge_history(chain, platform, organiser, fans, make_event):
    """Two earlier events on one badge contract: alice attended both, bob only the first."""
    alice, bob = fans[0], fans[1]
    badge = platform.create_badge("Badges", "BDG", salt="presale-badge", sender=organiser)
    earlier = [make_event(badge=badge), make_event(badge=badge)]
    for i, past in enumerate(earlier):
        attendees = [alice, bob] if i == 0 else [alice]
        tokens = [past.buy(GENERAL, 1, sender=fan)[0] for fan in attendees]
        past.check_in(tokens, sender=organiser)
    event_ids = [badge.event_id_of(e.address) for e in earlier]
    assert badge.attended_count(alice.address, event_ids) == 2
    assert badge.attended_count(bob.address, event_ids) == 1
    return badge, event_ids


def test_presale_by_badges(chain, make_event, organiser, fans, badge_history):
    badge, event_ids = badge_history
    alice, bob, carol = fans[0], fans[1], fans[2]
    event = make_event(badge=badge)
    ends_at = chain.timestamp() + 3 * DAY
    event.set_presale(GENERAL, ends_at=ends_at, min_events=2, event_ids=event_ids, sender=organiser)
    t = event.tier(GENERAL)
    assert (t.presale_end, t.presale_min_events, t.presale_events) == (ends_at, 2, tuple(event_ids))

    assert event.presale_eligible(GENERAL, alice.address)
    assert event.buy(GENERAL, 1, sender=alice) == [1]
    for fan in (bob, carol):
        assert not event.presale_eligible(GENERAL, fan.address)
        with pytest.raises(errors.PresaleNotEligible) as info:
            event.buy(GENERAL, 1, sender=fan)
        assert (info.value.tierId, info.value.buyer) == (GENERAL, fan.address)
    # The rule binds only its tier.
    event.buy(VIP, 1, sender=carol)

    chain.travel_to(ends_at)
    event.buy(GENERAL, 1, sender=bob)
    event.buy(GENERAL, 1, sender=carol)


def test_presale_with_k_of_n(chain, make_event, organiser, fans, badge_history):
    badge, event_ids = badge_history
    bob = fans[1]
    event = make_event(badge=badge)
    event.set_presale(
        GENERAL, ends_at=chain.timestamp() + DAY, min_events=1, event_ids=event_ids, sender=organiser
    )
    assert event.buy(GENERAL, 1, sender=bob) == [1]


def test_revoked_badge_no_longer_counts(chain, make_event, organiser, fans, badge_history):
    badge, event_ids = badge_history
    alice = fans[0]
    event = make_event(badge=badge)
    event.set_presale(
        GENERAL, ends_at=chain.timestamp() + DAY, min_events=2, event_ids=event_ids, sender=organiser
    )
    assert event.presale_eligible(GENERAL, alice.address)
    badge.revoke(badge.badge_id(event_ids[1], alice.address), sender=organiser)
    assert badge.attended_count(alice.address, event_ids) == 1
    assert not event.presale_eligible(GENERAL, alice.address)
    with pytest.raises(errors.PresaleNotEligible) as info:
        event.buy(GENERAL, 1, sender=alice)
    assert info.value.buyer == alice.address


def test_invalid_presale_rules(chain, make_event, event, organiser, fans):
    ends_at = chain.timestamp() + DAY
    with pytest.raises(errors.InvalidPresaleRule) as info:
        event.set_presale(GENERAL, ends_at=ends_at, min_events=3, event_ids=[1, 2], sender=organiser)
    assert (info.value.minEvents, info.value.eventCount) == (3, 2)
    with pytest.raises(errors.InvalidPresaleRule) as info:
        event.set_presale(GENERAL, ends_at=ends_at, min_events=1, event_ids=[], sender=organiser)
    assert (info.value.minEvents, info.value.eventCount) == (1, 0)
    # A badge rule needs a badge contract.
    no_badge = make_event(badge=False)
    with pytest.raises(errors.InvalidPresaleRule) as info:
        no_badge.set_presale(GENERAL, ends_at=ends_at, min_events=1, event_ids=[1], sender=organiser)
    assert (info.value.minEvents, info.value.eventCount) == (1, 1)
    # k == n is fine; so is an unknown tier refused; so is a non-admin.
    event.set_presale(GENERAL, ends_at=ends_at, min_events=2, event_ids=[1, 2], sender=organiser)
    with pytest.raises(errors.TierDoesNotExist):
        event.set_presale(9, ends_at=ends_at, sender=organiser)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        event.set_presale(GENERAL, ends_at=ends_at, sender=fans[0])


# ------------------------------------------------------------------ presale: Merkle snapshot


def _leaf(address: str) -> bytes:
    return keccak(keccak(abi_encode(["address"], [address])))


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def _merkle(addresses):
    """OpenZeppelin-compatible tree (sorted-pair hashing, double-hashed leaves): (root, {address: proof})."""
    layers = [[_leaf(a) for a in addresses]]
    while len(layers[-1]) > 1:
        level = layers[-1]
        layers.append(
            [
                _hash_pair(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                for i in range(0, len(level), 2)
            ]
        )
    proofs = {}
    for index, address in enumerate(addresses):
        proof, i = [], index
        for level in layers[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            i //= 2
        proofs[address] = proof
    return layers[-1][0], proofs


def test_presale_by_merkle_proof(chain, event, organiser, fans):
    listed = [f.address for f in fans[:5]]  # odd count: the last leaf is carried up a level
    outsider = fans[6]
    root, proofs = _merkle(listed)
    ends_at = chain.timestamp() + DAY
    event.set_presale(GENERAL, ends_at=ends_at, merkle_root=root, sender=organiser)
    assert event.tier(GENERAL).presale_root == root

    for fan in (fans[0], fans[4]):
        assert event.buy(GENERAL, 1, sender=fan, proof=proofs[fan.address])
    assert event.balance_of(fans[0].address) == 1 and event.balance_of(fans[4].address) == 1

    # A listed buyer without a proof, with someone else's proof, or an outsider: refused.
    for fan, proof in (
        (fans[1], None),
        (fans[1], []),
        (fans[1], proofs[fans[2].address]),
        (outsider, proofs[fans[0].address]),
        (outsider, [b"\x11" * 32]),
    ):
        with pytest.raises(errors.PresaleNotEligible) as info:
            event.buy(GENERAL, 1, sender=fan, proof=proof)
        assert (info.value.tierId, info.value.buyer) == (GENERAL, fan.address)

    chain.travel_to(ends_at)
    assert len(event.buy(GENERAL, 1, sender=outsider)) == 1


def test_presale_snapshot_of_one_address_needs_no_proof(chain, event, organiser, fans):
    root, proofs = _merkle([fans[0].address])
    assert proofs[fans[0].address] == [] and root == _leaf(fans[0].address)
    event.set_presale(GENERAL, ends_at=chain.timestamp() + DAY, merkle_root=root, sender=organiser)
    assert event.presale_eligible(GENERAL, fans[0].address)
    assert event.buy(GENERAL, 1, sender=fans[0], proof=[]) and event.buy(GENERAL, 1, sender=fans[0])
    assert not event.presale_eligible(GENERAL, fans[1].address)
    with pytest.raises(errors.PresaleNotEligible):
        event.buy(GENERAL, 1, sender=fans[1])


def test_closing_presale_opens_general_sale(chain, event, organiser, fans):
    root, _ = _merkle([fans[0].address, fans[1].address])
    event.set_presale(GENERAL, ends_at=chain.timestamp() + DAY, merkle_root=root, sender=organiser)
    with pytest.raises(errors.PresaleNotEligible):
        event.buy(GENERAL, 1, sender=fans[5])
    event.set_presale(GENERAL, ends_at=0, sender=organiser)
    assert event.buy(GENERAL, 1, sender=fans[5]) == [1]


def test_start_time_in_the_past_refused_at_creation(chain, make_event):
    now = chain.timestamp()
    with pytest.raises(errors.StartTimeInPast) as info:
        make_event(start_time=now - 3600, transfer_lock_time=now - 7200)
    assert info.value.startTime == now - 3600 and info.value.code == "start_time_in_past"


def test_factory_refuses_implementations_without_code(chain, organiser):
    implementation = chain.deploy("AttendanceBadge", organiser)
    empty = "0x" + "12" * 20
    with pytest.raises(errors.ImplementationWithoutCode) as info:
        chain.deploy("TicketFactory", organiser, empty, implementation)
    assert info.value.implementation == chain.w3.to_checksum_address(empty)
    with pytest.raises(errors.ImplementationWithoutCode):
        chain.deploy("TicketFactory", organiser, implementation, empty)
