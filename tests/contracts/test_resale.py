"""The capped resale market: listing, price cap against face value, payments and royalty, listings' life."""

from __future__ import annotations

import itertools

import pytest
from web3.logs import DISCARD

from tests.utils import ETH
from ticketkit import errors

GENERAL, VIP = 0, 1
FACE = ETH // 10
CAP = FACE * 11_000 // 10_000
VIP_FACE = ETH // 2
VIP_CAP = VIP_FACE * 11_000 // 10_000


def _gas_cost(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def _buy_resale_receipt(chain, event, token, sender, value):
    return chain.send(event.contract.functions.buyResale(token, value), sender, value=value)


# ------------------------------------------------------------------ listing


def test_only_owner_lists(chain, event, organiser, fans):
    alice, mallory = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    for caller in (mallory, organiser):
        with pytest.raises(errors.NotTicketOwner) as info:
            event.list_for_resale(token, FACE, sender=caller)
        assert (info.value.tokenId, info.value.caller) == (token, caller.address)
    assert event.ticket(token).listed_by is None

    receipt = event.list_for_resale(token, FACE, sender=alice)
    [listed] = event.contract.events.Listed().process_receipt(receipt, errors=DISCARD)
    assert dict(listed["args"]) == {"tokenId": token, "seller": alice.address, "price": FACE}
    info = event.ticket(token)
    assert (info.listed_by, info.listed_price) == (alice.address, FACE)


def test_listing_a_ticket_that_does_not_exist(event, fans):
    with pytest.raises(errors.NotTicketOwner) as info:
        event.list_for_resale(99, FACE, sender=fans[0])
    assert info.value.tokenId == 99


def test_price_cap_against_face_value(event, fans):
    alice = fans[0]
    [token] = event.buy(GENERAL, 1, sender=alice)
    [vip] = event.buy(VIP, 1, sender=alice)
    assert event.resale_cap_of(token) == CAP and event.resale_cap_of(vip) == VIP_CAP
    for t, cap in ((token, CAP), (vip, VIP_CAP)):
        with pytest.raises(errors.PriceAboveCap) as info:
            event.list_for_resale(t, cap + 1, sender=alice)
        assert (info.value.tokenId, info.value.price, info.value.cap) == (t, cap + 1, cap)
        event.list_for_resale(t, cap, sender=alice)
        assert event.ticket(t).listed_price == cap
    # Below face value is fine too (a cap, not a floor).
    event.list_for_resale(token, 1, sender=alice)
    assert event.ticket(token).listed_price == 1


def test_cap_follows_resale_cap_bps(make_event, fans):
    event = make_event(resale_cap_bps=15_000)
    [token] = event.buy(GENERAL, 1, sender=fans[0])
    assert event.resale_cap_of(token) == FACE * 3 // 2
    with pytest.raises(errors.PriceAboveCap):
        event.list_for_resale(token, FACE * 3 // 2 + 1, sender=fans[0])
    event.list_for_resale(token, FACE * 3 // 2, sender=fans[0])


def test_cap_does_not_compound_over_resales(event, fans):
    owners = fans[:4]
    [token] = event.buy(GENERAL, 1, sender=owners[0])
    for seller, buyer in itertools.pairwise(owners):
        assert event.resale_cap_of(token) == CAP
        with pytest.raises(errors.PriceAboveCap) as info:
            event.list_for_resale(token, CAP + 1, sender=seller)
        assert info.value.cap == CAP
        event.list_for_resale(token, CAP, sender=seller)
        event.buy_resale(token, sender=buyer)
        assert event.owner_of(token) == buyer.address
    # The last buyer paid CAP, yet may still ask no more than face x cap.
    assert event.resale_cap_of(token) == CAP
    with pytest.raises(errors.PriceAboveCap) as info:
        event.list_for_resale(token, CAP + 1, sender=owners[-1])
    assert (info.value.price, info.value.cap) == (CAP + 1, CAP)


def test_relisting_changes_price(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    event.list_for_resale(token, FACE, sender=alice)
    assert event.ticket(token).listed_price == FACE
    seller_before = chain.balance(alice.address)
    receipt = _buy_resale_receipt(chain, event, token, bob, FACE)
    [bought] = event.contract.events.ResaleBought().process_receipt(receipt, errors=DISCARD)
    assert bought["args"]["price"] == FACE
    assert chain.balance(alice.address) == seller_before + FACE - FACE * 500 // 10_000


# ------------------------------------------------------------------ buying


def test_buy_resale_pays_seller_and_royalty_exactly(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    royalty = CAP * 500 // 10_000
    seller, receiver, buyer = (chain.balance(a.address) for a in (alice, organiser, bob))
    contract = chain.balance(event.address)

    receipt = _buy_resale_receipt(chain, event, token, bob, CAP)

    assert chain.balance(alice.address) == seller + CAP - royalty
    assert chain.balance(organiser.address) == receiver + royalty
    assert chain.balance(bob.address) == buyer - CAP - _gas_cost(receipt)
    assert chain.balance(event.address) == contract  # the market keeps nothing
    [bought] = event.contract.events.ResaleBought().process_receipt(receipt, errors=DISCARD)
    assert dict(bought["args"]) == {
        "tokenId": token,
        "seller": alice.address,
        "buyer": bob.address,
        "price": CAP,
        "royalty": royalty,
    }
    info = event.ticket(token)
    assert info.owner == bob.address and info.listed_by is None and info.listed_price is None
    assert event.credit_of(alice.address) == event.credit_of(organiser.address) == 0


def test_royalty_to_custom_receiver_and_rate(chain, make_event, organiser, fans):
    alice, bob, receiver = fans[0], fans[1], fans[7]
    event = make_event(royalty_bps=1_000, royalty_receiver=receiver.address)
    [token] = event.buy(VIP, 1, sender=alice)
    event.list_for_resale(token, VIP_CAP, sender=alice)
    before = {a.address: chain.balance(a.address) for a in (alice, receiver, organiser)}
    event.buy_resale(token, sender=bob)
    royalty = VIP_CAP * 1_000 // 10_000
    assert chain.balance(alice.address) == before[alice.address] + VIP_CAP - royalty
    assert chain.balance(receiver.address) == before[receiver.address] + royalty
    assert chain.balance(organiser.address) == before[organiser.address]


def test_buy_resale_refunds_excess(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, FACE, sender=alice)
    royalty = FACE * 500 // 10_000
    seller, receiver, buyer = (chain.balance(a.address) for a in (alice, organiser, bob))
    contract = chain.balance(event.address)
    receipt = _buy_resale_receipt(chain, event, token, bob, FACE + ETH)
    assert chain.balance(bob.address) == buyer - FACE - _gas_cost(receipt)
    assert chain.balance(alice.address) == seller + FACE - royalty
    assert chain.balance(organiser.address) == receiver + royalty
    assert chain.balance(event.address) == contract
    assert event.credit_of(bob.address) == 0


def test_buy_resale_underpayment(event, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    with pytest.raises(errors.InsufficientPayment) as info:
        event.buy_resale(token, sender=bob, value=CAP - 1, max_price=CAP)
    assert (info.value.required, info.value.sent) == (CAP, CAP - 1)
    assert event.owner_of(token) == alice.address
    assert event.ticket(token).listed_by == alice.address


def test_buying_unlisted_ticket(event, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    with pytest.raises(errors.NotListed) as info:
        event.buy_resale(token, sender=bob, value=CAP)
    assert info.value.tokenId == token
    with pytest.raises(errors.NotListed):
        event.buy_resale(99, sender=bob, value=CAP)


def test_paused_blocks_buy_resale(event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    event.pause(sender=organiser)
    with pytest.raises(errors.EnforcedPause):
        event.buy_resale(token, sender=bob)
    assert event.owner_of(token) == alice.address
    event.unpause(sender=organiser)
    event.buy_resale(token, sender=bob)
    assert event.owner_of(token) == bob.address


# ------------------------------------------------------------------ a listing's life


def test_cancel_listing_only_by_seller(event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    for caller in (bob, organiser):
        with pytest.raises(errors.NotListed) as info:
            event.cancel_listing(token, sender=caller)
        assert info.value.tokenId == token
    assert event.ticket(token).listed_by == alice.address

    receipt = event.cancel_listing(token, sender=alice)
    assert [
        e["args"]["tokenId"]
        for e in event.contract.events.ListingCancelled().process_receipt(receipt, errors=DISCARD)
    ] == [token]
    assert event.ticket(token).listed_by is None
    with pytest.raises(errors.NotListed):
        event.buy_resale(token, sender=bob, value=CAP)
    with pytest.raises(errors.NotListed):  # nothing left to cancel
        event.cancel_listing(token, sender=alice)


def test_listing_dies_with_a_gift(chain, make_event, fans):
    event = make_event(gifts_allowed=True)
    alice, bob, carol = fans[0], fans[1], fans[2]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    receipt = event.gift(token, bob.address, sender=alice)
    assert [
        e["args"]["tokenId"]
        for e in event.contract.events.ListingCancelled().process_receipt(receipt, errors=DISCARD)
    ] == [token]
    info = event.ticket(token)
    assert info.owner == bob.address and info.listed_by is None and info.listed_price is None
    with pytest.raises(errors.NotListed) as err:
        event.buy_resale(token, sender=carol, value=CAP)
    assert err.value.tokenId == token
    with pytest.raises(errors.NotListed):
        event.cancel_listing(token, sender=alice)
    # Even if the ticket comes back, the old listing does not revive.
    event.gift(token, alice.address, sender=bob)
    assert event.ticket(token).listed_by is None
    with pytest.raises(errors.NotListed):
        event.buy_resale(token, sender=carol, value=CAP)


def test_listing_dies_with_a_gateway_transfer(chain, event, organiser, fans):
    alice, bob, carol, gateway = fans[0], fans[1], fans[2], fans[8]
    event.grant_role("GATEWAY_ROLE", gateway.address, sender=organiser)
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    deadline = chain.timestamp() + 3600
    signature = event.sign_gateway_transfer(token, bob.address, FACE, deadline, alice)
    event.gateway_transfer(token, bob.address, FACE, deadline, signature, sender=gateway)
    assert event.ticket(token).listed_by is None
    with pytest.raises(errors.NotListed):
        event.buy_resale(token, sender=carol, value=CAP)


def test_new_owner_can_list_after_resale(event, fans):
    alice, bob, carol = fans[0], fans[1], fans[2]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    event.buy_resale(token, sender=bob)
    with pytest.raises(errors.NotTicketOwner):  # the old seller lost every right to it
        event.list_for_resale(token, CAP, sender=alice)
    event.list_for_resale(token, FACE, sender=bob)
    event.buy_resale(token, sender=carol)
    assert event.owner_of(token) == carol.address


def test_used_ticket_cannot_be_listed(event, organiser, fans):
    alice = fans[0]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.check_in([token], sender=organiser)
    for price in (FACE, CAP, 0):
        with pytest.raises(errors.TicketAlreadyUsed) as info:
            event.list_for_resale(token, price, sender=alice)
        assert info.value.tokenId == token
    assert event.ticket(token).listed_by is None
