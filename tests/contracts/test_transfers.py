"""The transfer policy: no loophole through any ERC-721 path, gifts, locks, used tickets, gateway."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from tests.utils import ETH
from ticketkit import errors

GENERAL = 0
FACE = ETH // 10
CAP = FACE * 11_000 // 10_000
ZERO = "0x0000000000000000000000000000000000000000"
GATEWAY = "GATEWAY_ROLE"


def _transfer_from(chain, event, sender, frm, to, token):
    return chain.send(event.contract.functions.transferFrom(frm, to, token), sender)


def _safe3(chain, event, sender, frm, to, token):
    fn = event.contract.functions["safeTransferFrom(address,address,uint256)"]
    return chain.send(fn(frm, to, token), sender)


def _safe4(chain, event, sender, frm, to, token):
    fn = event.contract.functions["safeTransferFrom(address,address,uint256,bytes)"]
    return chain.send(fn(frm, to, token, b"gift"), sender)


PATHS = {"transferFrom": _transfer_from, "safeTransferFrom3": _safe3, "safeTransferFrom4": _safe4}


@pytest.fixture()
def gift_event(make_event):
    return make_event(gifts_allowed=True)


@pytest.fixture()
def gateway(event, organiser, fans):
    account = fans[8]
    event.grant_role(GATEWAY, account.address, sender=organiser)
    return account


def _deadline(chain, seconds=3600):
    return chain.timestamp() + seconds


# ------------------------------------------------------------------ gifts not allowed


@pytest.mark.parametrize("path", PATHS)
def test_no_gifts_every_transfer_path_refused(chain, event, fans, path):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    with pytest.raises(errors.GiftsNotAllowed) as info:
        PATHS[path](chain, event, alice, alice.address, bob.address, token)
    assert info.value.tokenId == token and info.value.code == "gifts_not_allowed"
    assert event.owner_of(token) == alice.address


def test_no_gifts_admin_cannot_move_tickets_either(chain, event, organiser, fans):
    alice = fans[0]
    [token] = event.buy(GENERAL, 1, sender=alice)
    with pytest.raises(errors.TransferNotAllowed) as info:
        _transfer_from(chain, event, organiser, alice.address, organiser.address, token)
    assert info.value.caller == organiser.address
    assert event.owner_of(token) == alice.address


def test_transfer_to_zero_address_refused(chain, event, gift_event, fans):
    # The policy hook skips to == 0 (a burn); the ERC-721 layer must still refuse it.
    alice = fans[0]
    for collection in (event, gift_event):
        [token] = collection.buy(GENERAL, 1, sender=alice)
        with pytest.raises(errors.error_class("TransferToZeroAddress")):
            _transfer_from(chain, collection, alice, alice.address, ZERO, token)
        assert collection.owner_of(token) == alice.address


@pytest.mark.parametrize("gifts", [False, True])
def test_approvals_disabled(chain, make_event, fans, gifts):
    event = make_event(gifts_allowed=gifts)
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    with pytest.raises(errors.ApprovalsDisabled):
        chain.send(event.contract.functions.approve(bob.address, token), alice)
    for approved in (True, False):
        with pytest.raises(errors.ApprovalsDisabled):
            chain.send(event.contract.functions.setApprovalForAll(bob.address, approved), alice)
    assert event.chain.call(event.contract.functions.getApproved(token)) == ZERO
    assert not event.chain.call(event.contract.functions.isApprovedForAll(alice.address, bob.address))


# ------------------------------------------------------------------ gifts allowed


@pytest.mark.parametrize("path", PATHS)
def test_gift_by_holder_through_each_path(chain, gift_event, fans, path):
    alice, bob = fans[0], fans[1]
    [token] = gift_event.buy(GENERAL, 1, sender=alice)
    receipt = PATHS[path](chain, gift_event, alice, alice.address, bob.address, token)
    [moved] = gift_event.contract.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert (moved["args"]["from"], moved["args"]["to"], moved["args"]["id"]) == (
        alice.address,
        bob.address,
        token,
    )
    assert gift_event.owner_of(token) == bob.address
    assert gift_event.ticket(token).paid_on_chain  # gifting keeps the refund right with the ticket


def test_library_gift(gift_event, fans):
    alice, bob, carol = fans[0], fans[1], fans[2]
    [token] = gift_event.buy(GENERAL, 1, sender=alice)
    gift_event.gift(token, bob.address, sender=alice)
    gift_event.gift(token, carol.address, sender=bob)
    assert gift_event.owner_of(token) == carol.address


@pytest.mark.parametrize("path", PATHS)
def test_non_owner_cannot_gift(chain, gift_event, organiser, fans, path):
    alice, mallory = fans[0], fans[1]
    [token] = gift_event.buy(GENERAL, 1, sender=alice)
    # Naming the holder as `from`: the caller is not the holder.
    for caller in (mallory, organiser):
        with pytest.raises(errors.TransferNotAllowed) as info:
            PATHS[path](chain, gift_event, caller, alice.address, caller.address, token)
        assert (info.value.tokenId, info.value.caller) == (token, caller.address)
    # Naming themself as `from`: they are not the owner.
    with pytest.raises(errors.error_class("TransferFromIncorrectOwner")):
        PATHS[path](chain, gift_event, mallory, mallory.address, mallory.address, token)
    assert gift_event.owner_of(token) == alice.address


def test_gifts_stop_at_transfer_lock_time(chain, gift_event, fans):
    alice, bob = fans[0], fans[1]
    a, b = gift_event.buy(GENERAL, 2, sender=alice)
    lock = gift_event.event_info()["transfer_lock_time"]
    chain.travel_to(lock - 100)
    gift_event.gift(a, bob.address, sender=alice)
    chain.travel_to(lock)
    for path in PATHS.values():
        with pytest.raises(errors.TransfersLocked) as info:
            path(chain, gift_event, alice, alice.address, bob.address, b)
        assert (info.value.tokenId, info.value.transferLockTime) == (b, lock)
    assert gift_event.owner_of(b) == alice.address


def test_everything_locked_after_transfer_lock_time(chain, event, organiser, fans, gateway):
    alice, bob = fans[0], fans[1]
    a, b = event.buy(GENERAL, 2, sender=alice)
    event.list_for_resale(a, CAP, sender=alice)
    lock = event.event_info()["transfer_lock_time"]
    deadline = lock + 3600
    signature = event.sign_gateway_transfer(b, bob.address, FACE, deadline, alice)
    chain.travel_to(lock)
    with pytest.raises(errors.TransfersLocked):
        event.list_for_resale(b, CAP, sender=alice)
    with pytest.raises(errors.TransfersLocked):
        event.buy_resale(a, sender=bob, value=CAP)
    with pytest.raises(errors.TransfersLocked) as info:
        event.gateway_transfer(b, bob.address, FACE, deadline, signature, sender=gateway)
    assert (info.value.tokenId, info.value.transferLockTime) == (b, lock)
    assert event.owner_of(a) == event.owner_of(b) == alice.address


# ------------------------------------------------------------------ used tickets never move


def test_checked_in_ticket_never_moves(chain, make_event, organiser, fans):
    event = make_event(gifts_allowed=True)
    alice, bob = fans[0], fans[1]
    gateway = fans[8]
    event.grant_role(GATEWAY, gateway.address, sender=organiser)
    listed, token = event.buy(GENERAL, 2, sender=alice)
    event.list_for_resale(listed, CAP, sender=alice)  # listed before check-in
    event.check_in([listed, token], sender=organiser)
    assert event.ticket(listed).listed_by is None  # a used ticket shows no listing

    for t in (listed, token):
        for path in PATHS.values():
            with pytest.raises(errors.TicketAlreadyUsed) as info:
                path(chain, event, alice, alice.address, bob.address, t)
            assert info.value.tokenId == t
        with pytest.raises(errors.TicketAlreadyUsed):
            event.list_for_resale(t, FACE, sender=alice)
        deadline = _deadline(chain)
        signature = event.sign_gateway_transfer(t, bob.address, FACE, deadline, alice)
        with pytest.raises(errors.TicketAlreadyUsed):
            event.gateway_transfer(t, bob.address, FACE, deadline, signature, sender=gateway)
    with pytest.raises(errors.TicketAlreadyUsed):
        event.buy_resale(listed, sender=bob, value=CAP)
    assert event.owner_of(listed) == event.owner_of(token) == alice.address


# ------------------------------------------------------------------ cancelled event


def test_cancelled_event_nothing_moves(chain, make_event, organiser, fans):
    event = make_event(gifts_allowed=True)
    alice, bob = fans[0], fans[1]
    gateway = fans[8]
    event.grant_role(GATEWAY, gateway.address, sender=organiser)
    listed, token = event.buy(GENERAL, 2, sender=alice)
    event.list_for_resale(listed, CAP, sender=alice)
    deadline = _deadline(chain)
    signature = event.sign_gateway_transfer(token, bob.address, FACE, deadline, alice)
    event.cancel_event(sender=organiser)

    for path in PATHS.values():
        with pytest.raises(errors.EventIsCancelled):
            path(chain, event, alice, alice.address, bob.address, token)
    with pytest.raises(errors.EventIsCancelled):
        event.list_for_resale(token, FACE, sender=alice)
    with pytest.raises(errors.EventIsCancelled):
        event.buy_resale(listed, sender=bob, value=CAP)
    with pytest.raises(errors.EventIsCancelled):
        event.gateway_transfer(token, bob.address, FACE, deadline, signature, sender=gateway)
    assert event.owner_of(listed) == event.owner_of(token) == alice.address


def test_cancelled_no_gift_event_reports_cancellation(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.cancel_event(sender=organiser)
    with pytest.raises(errors.EventIsCancelled):
        event.gift(token, bob.address, sender=alice)


# ------------------------------------------------------------------ gateway transfers


def test_gateway_transfer_moves_ticket_and_emits_price(chain, event, fans, gateway):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    deadline = _deadline(chain)
    assert event.nonce_of(alice.address) == 0
    signature = event.sign_gateway_transfer(token, bob.address, CAP, deadline, alice)  # exactly the cap
    receipt = event.gateway_transfer(token, bob.address, CAP, deadline, signature, sender=gateway)
    [moved] = event.contract.events.GatewayTransferred().process_receipt(receipt, errors=DISCARD)
    assert dict(moved["args"]) == {"tokenId": token, "from": alice.address, "to": bob.address, "price": CAP}
    assert event.owner_of(token) == bob.address
    assert event.nonce_of(alice.address) == 1


def test_gateway_price_above_cap(chain, event, fans, gateway):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    deadline = _deadline(chain)
    signature = event.sign_gateway_transfer(token, bob.address, CAP + 1, deadline, alice)
    with pytest.raises(errors.PriceAboveCap) as info:
        event.gateway_transfer(token, bob.address, CAP + 1, deadline, signature, sender=gateway)
    assert (info.value.tokenId, info.value.price, info.value.cap) == (token, CAP + 1, CAP)
    assert event.owner_of(token) == alice.address and event.nonce_of(alice.address) == 0


def test_gateway_signature_by_someone_else(chain, event, fans, gateway):
    alice, bob, mallory = fans[0], fans[1], fans[2]
    [token] = event.buy(GENERAL, 1, sender=alice)
    deadline = _deadline(chain)
    # mallory signs with alice's nonce (both 0), so the recovered signer is exactly mallory.
    signature = event.sign_gateway_transfer(token, mallory.address, FACE, deadline, mallory)
    with pytest.raises(errors.InvalidHolderSignature) as info:
        event.gateway_transfer(token, mallory.address, FACE, deadline, signature, sender=gateway)
    assert (info.value.tokenId, info.value.signer) == (token, mallory.address)
    # A holder's signature does not carry over to other terms (recipient or price).
    signature = event.sign_gateway_transfer(token, bob.address, FACE, deadline, alice)
    for to, price in ((mallory.address, FACE), (bob.address, FACE - 1)):
        with pytest.raises(errors.InvalidHolderSignature) as info:
            event.gateway_transfer(token, to, price, deadline, signature, sender=gateway)
        assert info.value.signer != alice.address
    assert event.owner_of(token) == alice.address


def test_gateway_signature_cannot_be_replayed(chain, event, fans, gateway):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    deadline = _deadline(chain)
    signature = event.sign_gateway_transfer(token, bob.address, FACE, deadline, alice)
    event.gateway_transfer(token, bob.address, FACE, deadline, signature, sender=gateway)
    # Bob sends it back, so alice holds it again: her old signature must still be dead.
    back = event.sign_gateway_transfer(token, alice.address, FACE, deadline, bob)
    event.gateway_transfer(token, alice.address, FACE, deadline, back, sender=gateway)
    assert event.owner_of(token) == alice.address
    with pytest.raises(errors.InvalidHolderSignature) as info:
        event.gateway_transfer(token, bob.address, FACE, deadline, signature, sender=gateway)
    assert info.value.tokenId == token and info.value.signer != alice.address
    assert event.owner_of(token) == alice.address


def test_gateway_expired_authorization(chain, event, fans, gateway):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    deadline = _deadline(chain, 600)
    signature = event.sign_gateway_transfer(token, bob.address, FACE, deadline, alice)
    chain.travel_to(deadline + 1)
    with pytest.raises(errors.AuthorizationExpired) as info:
        event.gateway_transfer(token, bob.address, FACE, deadline, signature, sender=gateway)
    assert info.value.deadline == deadline
    assert event.owner_of(token) == alice.address


def test_gateway_needs_role(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    deadline = _deadline(chain)
    signature = event.sign_gateway_transfer(token, bob.address, FACE, deadline, alice)
    for caller in (bob, alice, organiser):  # even the admin holds no gateway role by default
        with pytest.raises(errors.AccessControlUnauthorizedAccount) as info:
            event.gateway_transfer(token, bob.address, FACE, deadline, signature, sender=caller)
        assert (info.value.account, info.value.neededRole) == (caller.address, event.role(GATEWAY))
    assert event.owner_of(token) == alice.address
    event.grant_role(GATEWAY, bob.address, sender=organiser)
    event.gateway_transfer(token, bob.address, FACE, deadline, signature, sender=bob)
    assert event.owner_of(token) == bob.address


def test_gift_with_eth_attached_is_refused(chain, gift_event, fans):
    # solady's transferFrom is payable: ETH sent with a gift would be stranded, so it is refused.
    alice, bob = fans[0], fans[1]
    [token] = gift_event.buy(GENERAL, 1, sender=alice)
    call = gift_event.contract.functions.transferFrom(alice.address, bob.address, token)
    with pytest.raises(errors.UnexpectedPayment) as info:
        chain.send(call, alice, value=1)
    assert info.value.value == 1
    assert gift_event.owner_of(token) == alice.address


# ------------------------------------------------------------------ the policy on every path (issue 14)


def test_gateway_transfer_at_price_zero_is_a_gift(chain, event, make_event, organiser, fans, gateway):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    deadline = _deadline(chain)
    signature = event.sign_gateway_transfer(token, bob.address, 0, deadline, alice)
    with pytest.raises(errors.GiftsNotAllowed) as info:
        event.gateway_transfer(token, bob.address, 0, deadline, signature, sender=gateway)
    assert info.value.tokenId == token and event.owner_of(token) == alice.address
    paid = event.sign_gateway_transfer(token, bob.address, FACE, deadline, alice)  # a sale still moves
    event.gateway_transfer(token, bob.address, FACE, deadline, paid, sender=gateway)
    assert event.owner_of(token) == bob.address

    gifts = make_event(gifts_allowed=True)
    gifts.grant_role(GATEWAY, gateway.address, sender=organiser)
    [free] = gifts.buy(GENERAL, 1, sender=alice)
    signature = gifts.sign_gateway_transfer(free, bob.address, 0, deadline, alice)
    gifts.gateway_transfer(free, bob.address, 0, deadline, signature, sender=gateway)
    assert gifts.owner_of(free) == bob.address


def test_pause_stops_every_transfer_path(chain, make_event, organiser, fans):
    gifts = make_event(gifts_allowed=True)
    alice, bob, gateway = fans[0], fans[1], fans[8]
    gifts.grant_role(GATEWAY, gateway.address, sender=organiser)
    a, b, c = gifts.buy(GENERAL, 3, sender=alice)
    gifts.list_for_resale(a, CAP, sender=alice)
    deadline = _deadline(chain)
    signature = gifts.sign_gateway_transfer(b, bob.address, FACE, deadline, alice)
    gifts.pause(sender=organiser)
    with pytest.raises(errors.EnforcedPause):
        gifts.buy_resale(a, sender=bob)
    with pytest.raises(errors.EnforcedPause):
        gifts.gateway_transfer(b, bob.address, FACE, deadline, signature, sender=gateway)
    with pytest.raises(errors.EnforcedPause) as info:
        gifts.gift(c, bob.address, sender=alice)
    assert info.value.code == "enforced_pause"
    assert gifts.balance_of(alice.address) == 3
    gifts.unpause(sender=organiser)
    gifts.gateway_transfer(b, bob.address, FACE, deadline, signature, sender=gateway)
    gifts.gift(c, bob.address, sender=alice)
    assert gifts.balance_of(bob.address) == 2


def test_buy_resale_takes_at_most_what_the_buyer_saw(event, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, FACE, sender=alice)
    seen = event.ticket(token).listed_price
    event.list_for_resale(token, CAP, sender=alice)  # re-listed higher in front of the buyer
    with pytest.raises(errors.ListingAboveMaxPrice) as info:
        event.buy_resale(token, sender=bob, max_price=seen, value=CAP)
    assert (info.value.price, info.value.maxPrice) == (CAP, FACE)
    assert event.owner_of(token) == alice.address
    event.buy_resale(token, sender=bob, max_price=CAP)
    assert event.owner_of(token) == bob.address


def test_ticket_hides_a_listing_that_cannot_be_bought_after_the_lock(chain, event, fans):
    alice = fans[0]
    [token] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(token, CAP, sender=alice)
    assert event.ticket(token).listed_by == alice.address
    chain.travel_to(event.event_info()["transfer_lock_time"])
    shown = event.ticket(token)
    assert shown.listed_by is None and shown.listed_price is None
