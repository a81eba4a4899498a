"""Cancellation, refunds (pull and push), credits and the organiser's proceeds, on a real anvil."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

import ticketkit as tk
from tests.utils import ETH
from ticketkit import errors

GENERAL, VIP = 0, 1
GA_PRICE, VIP_PRICE = ETH // 10, ETH // 2

# Attacker.Mode
MODE_NONE, MODE_REJECT = 0, 1


def logs(collection: tk.Collection, receipt, name: str):
    return collection.contract.events[name]().process_receipt(receipt, errors=DISCARD)


def gas_cost(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def assert_solvent(chain, event: tk.Collection) -> None:
    assert chain.balance(event.address) >= event.owed()
    assert event.withdrawable_proceeds() == chain.balance(event.address) - event.owed()


# ------------------------------------------------------------------ cancellation


def test_cancel_only_by_admin(chain, event, organiser, fans):
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as info:
        event.cancel_event(sender=fans[0])
    assert info.value.account == fans[0].address and info.value.neededRole == b"\0" * 32
    assert not event.event_info()["cancelled"]
    event.cancel_event(sender=organiser)
    assert event.event_info()["cancelled"]
    with pytest.raises(errors.EventIsCancelled):
        event.cancel_event(sender=organiser)


def test_cancel_only_before_start(chain, event, organiser):
    start = event.event_info()["start_time"]
    chain.travel_to(start)
    with pytest.raises(errors.EventAlreadyStarted) as info:
        event.cancel_event(sender=organiser)
    assert info.value.startTime == start
    assert not event.event_info()["cancelled"]


def test_sales_and_moves_stop_after_cancel(chain, make_event, organiser, fans):
    event = make_event(gifts_allowed=True)
    alice, bob = fans[0], fans[1]
    [listed, kept] = event.buy(GENERAL, 2, sender=alice)
    event.list_for_resale(listed, GA_PRICE, sender=alice)
    event.cancel_event(sender=organiser)
    with pytest.raises(errors.EventIsCancelled):
        event.buy(GENERAL, 1, sender=bob)
    with pytest.raises(errors.EventIsCancelled):
        event.mint_batch(GENERAL, [bob.address], sender=organiser)
    with pytest.raises(errors.EventIsCancelled):
        event.buy_resale(listed, sender=bob, value=GA_PRICE)
    with pytest.raises(errors.EventIsCancelled):
        event.list_for_resale(kept, GA_PRICE, sender=alice)
    with pytest.raises(errors.EventIsCancelled):
        event.gift(kept, bob.address, sender=alice)
    assert event.owner_of(listed) == alice.address and event.owner_of(kept) == alice.address


# ------------------------------------------------------------------ pull refunds


def test_claim_refund_pays_face_value_and_burns(chain, event, organiser, fans):
    alice = fans[0]
    [ga] = event.buy(GENERAL, 1, sender=alice)
    [vip] = event.buy(VIP, 1, sender=alice)
    assert event.refund_reserve() == GA_PRICE + VIP_PRICE
    event.cancel_event(sender=organiser)

    before = chain.balance(alice.address)
    contract_before = chain.balance(event.address)
    receipt = event.claim_refund([ga, vip], sender=alice)
    assert chain.balance(alice.address) == before + GA_PRICE + VIP_PRICE - gas_cost(receipt)
    assert chain.balance(event.address) == contract_before - GA_PRICE - VIP_PRICE
    assert event.refund_reserve() == 0
    assert not event.exists(ga) and not event.exists(vip)
    with pytest.raises(errors.TicketDoesNotExist):
        event.ticket(ga)

    # A second claim of the same ticket: it is burned, so the caller no longer holds it.
    with pytest.raises(errors.ContractRevert) as info:
        event.claim_refund([ga], sender=alice)
    assert type(info.value) is errors.NotTicketOwner
    assert type(info.value).__name__ in errors.__all__
    assert info.value.tokenId == ga and info.value.caller == alice.address
    assert_solvent(chain, event)


@pytest.mark.parametrize("how", ["claim", "batch"])
def test_a_refund_ends_the_tickets_listing(chain, event, organiser, fans, how):
    """Found by the soak's state machine: a listed ticket, refunded, stayed listed (burns skipped the
    rule)."""
    alice, bob = fans[0], fans[1]
    [ticket] = event.buy(GENERAL, 1, sender=alice)
    event.list_for_resale(ticket, GA_PRICE, sender=alice)
    event.cancel_event(sender=organiser)
    if how == "claim":
        receipt = event.claim_refund([ticket], sender=alice)
    else:
        receipt = event.refund_batch([ticket], sender=organiser)
    assert [log.args.tokenId for log in logs(event, receipt, "ListingCancelled")] == [ticket]
    with pytest.raises(errors.NotListed) as info:
        event.buy_resale(ticket, sender=bob, value=GA_PRICE)
    assert info.value.tokenId == ticket
    assert_solvent(chain, event)


def test_claim_refund_of_someone_elses_ticket_refused(chain, event, organiser, fans):
    [token] = event.buy(GENERAL, 1, sender=fans[0])
    event.cancel_event(sender=organiser)
    with pytest.raises(errors.NotTicketOwner) as info:
        event.claim_refund([token], sender=fans[1])
    assert info.value.caller == fans[1].address
    assert event.owner_of(token) == fans[0].address


def test_claim_before_cancel_refused(chain, event, organiser, fans):
    [token] = event.buy(GENERAL, 1, sender=fans[0])
    with pytest.raises(errors.EventNotCancelled):
        event.claim_refund([token], sender=fans[0])
    with pytest.raises(errors.EventNotCancelled):
        event.refund_batch([token], sender=organiser)
    assert event.owner_of(token) == fans[0].address


def test_airdropped_tickets_are_not_refundable(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [dropped] = event.mint_batch(GENERAL, [alice.address], sender=organiser)
    [bought] = event.buy(GENERAL, 1, sender=bob)
    assert not event.ticket(dropped).paid_on_chain and event.ticket(bought).paid_on_chain
    assert event.refund_reserve() == GA_PRICE
    event.cancel_event(sender=organiser)

    with pytest.raises(errors.NotRefundable) as info:
        event.claim_refund([dropped], sender=alice)
    assert info.value.tokenId == dropped

    bob_before = chain.balance(bob.address)
    receipt = event.refund_batch([dropped, bought], sender=organiser)
    refunded = logs(event, receipt, "Refunded")
    assert [e["args"]["tokenId"] for e in refunded] == [bought]
    assert chain.balance(bob.address) == bob_before + GA_PRICE
    assert event.owner_of(dropped) == alice.address  # skipped, not burned


# ------------------------------------------------------------------ push refunds


def test_refund_batch_only_by_admin(chain, event, organiser, fans):
    [token] = event.buy(GENERAL, 1, sender=fans[0])
    event.cancel_event(sender=organiser)
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        event.refund_batch([token], sender=fans[0])


def test_refund_batch_is_resumable_each_holder_refunded_once(chain, event, organiser, fans):
    holders = fans[:6]
    tokens: dict[int, object] = {}
    for i, fan in enumerate(holders):
        tier = VIP if i % 3 == 0 else GENERAL
        for token in event.buy(tier, 1 + i % 2, sender=fan):
            tokens[token] = fan
    paid = {fan.address: 0 for fan in holders}
    for token, fan in tokens.items():
        paid[fan.address] += event.ticket(token).face_value
    assert event.refund_reserve() == sum(paid.values())
    event.cancel_event(sender=organiser)

    before = {fan.address: chain.balance(fan.address) for fan in holders}
    org_before = chain.balance(organiser.address)
    ids = sorted(tokens)
    half = ids[: len(ids) // 2]
    r1 = event.refund_batch(half, sender=organiser)
    assert len(logs(event, r1, "Refunded")) == len(half)
    assert_solvent(chain, event)
    # "Crash" and re-send everything: the first half is skipped, the rest refunded.
    r2 = event.refund_batch(ids, sender=organiser)
    assert [e["args"]["tokenId"] for e in logs(event, r2, "Refunded")] == ids[len(half) :]
    # And once more: nothing left to do.
    r3 = event.refund_batch(ids, sender=organiser)
    assert logs(event, r3, "Refunded") == ()

    for fan in holders:
        assert chain.balance(fan.address) == before[fan.address] + paid[fan.address]
    assert chain.balance(organiser.address) == org_before - gas_cost(r1) - gas_cost(r2) - gas_cost(r3)
    assert event.refund_reserve() == 0
    assert all(not event.exists(t) for t in ids)
    assert chain.balance(event.address) == 0 and event.owed() == 0


def test_holder_rejecting_eth_is_credited_and_does_not_block(chain, event, organiser, fans, deploy_attacker):
    alice = fans[0]
    rejecter = deploy_attacker(event, alice)
    first = chain.send(rejecter.functions.buy(GENERAL, 2), alice, value=2 * GA_PRICE)
    assert first["status"] == 1
    r_tokens = [t for t in range(1, event.total_minted() + 1) if event.owner_of(t) == rejecter.address]
    assert len(r_tokens) == 2
    [bob_token] = event.buy(GENERAL, 1, sender=fans[1])
    chain.send(rejecter.functions.configure(MODE_REJECT, 0, False), alice)
    event.cancel_event(sender=organiser)

    bob_before = chain.balance(fans[1].address)
    receipt = event.refund_batch([r_tokens[0], bob_token, r_tokens[1]], sender=organiser)
    credited = logs(event, receipt, "PaymentCredited")
    assert [(e["args"]["account"], e["args"]["amount"]) for e in credited] == [
        (rejecter.address, GA_PRICE)
    ] * 2
    assert chain.balance(fans[1].address) == bob_before + GA_PRICE  # bob was not blocked
    assert event.credit_of(rejecter.address) == 2 * GA_PRICE
    assert chain.balance(rejecter.address) == 0
    assert event.owed() == 2 * GA_PRICE and event.refund_reserve() == 0
    assert event.withdrawable_proceeds() == 0
    assert_solvent(chain, event)

    # Still rejecting: withdrawing fails and nothing changes.
    with pytest.raises(errors.TicketkitError):
        chain.send(rejecter.functions.withdrawCredit(), alice)
    assert event.credit_of(rejecter.address) == 2 * GA_PRICE

    chain.send(rejecter.functions.configure(MODE_NONE, 0, False), alice)
    chain.send(rejecter.functions.withdrawCredit(), alice)
    assert chain.balance(rejecter.address) == 2 * GA_PRICE
    assert event.credit_of(rejecter.address) == 0 and event.owed() == 0
    assert chain.balance(event.address) == 0
    with pytest.raises(errors.NothingToWithdraw) as info:
        chain.send(rejecter.functions.withdrawCredit(), alice)
    assert info.value.account == rejecter.address


# ------------------------------------------------------------------ proceeds


def test_proceeds_before_start_exclude_refund_reserve(chain, event, organiser, fans):
    event.buy(GENERAL, 2, sender=fans[0])
    event.buy(VIP, 1, sender=fans[1])
    reserve = 2 * GA_PRICE + VIP_PRICE
    assert event.refund_reserve() == reserve == event.owed()
    assert chain.balance(event.address) == reserve
    assert event.withdrawable_proceeds() == 0
    with pytest.raises(errors.ExceedsWithdrawable) as info:
        event.withdraw_proceeds(organiser.address, 1, sender=organiser)
    assert info.value.amount == 1 and info.value.available == 0


def test_proceeds_after_start_all_withdrawable(chain, event, organiser, fans):
    event.buy(GENERAL, 3, sender=fans[0])
    event.buy(VIP, 2, sender=fans[1])
    total = 3 * GA_PRICE + 2 * VIP_PRICE
    chain.travel_to(event.event_info()["start_time"])
    assert event.owed() == 0
    assert event.withdrawable_proceeds() == total

    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        event.withdraw_proceeds(fans[0].address, 1, sender=fans[0])
    with pytest.raises(errors.ExceedsWithdrawable) as info:
        event.withdraw_proceeds(organiser.address, total + 1, sender=organiser)
    assert info.value.amount == total + 1 and info.value.available == total

    treasury = fans[8].address
    before = chain.balance(treasury)
    event.withdraw_proceeds(treasury, total - GA_PRICE, sender=organiser)
    assert event.withdrawable_proceeds() == GA_PRICE
    event.withdraw_proceeds(treasury, GA_PRICE, sender=organiser)
    assert chain.balance(treasury) == before + total
    assert chain.balance(event.address) == 0 and event.withdrawable_proceeds() == 0
    with pytest.raises(errors.ExceedsWithdrawable):
        event.withdraw_proceeds(treasury, 1, sender=organiser)


def test_after_cancel_owed_covers_refunds_and_withdrawable_never_dips(chain, event, organiser, fans):
    tokens = {fans[0]: event.buy(GENERAL, 2, sender=fans[0]), fans[1]: event.buy(VIP, 1, sender=fans[1])}
    # Stray money (a payment nobody owes back) is the organiser's.
    chain.rpc("anvil_setBalance", [event.address, hex(chain.balance(event.address) + 12345)])
    event.cancel_event(sender=organiser)
    reserve = 2 * GA_PRICE + VIP_PRICE
    assert event.owed() == reserve
    assert event.withdrawable_proceeds() == 12345
    with pytest.raises(errors.ExceedsWithdrawable):
        event.withdraw_proceeds(organiser.address, 12346, sender=organiser)
    event.withdraw_proceeds(organiser.address, 12345, sender=organiser)

    # Even after the start, a cancelled event keeps the reserve owed.
    chain.travel_to(event.event_info()["start_time"] + 1)
    assert event.owed() == reserve and event.withdrawable_proceeds() == 0
    with pytest.raises(errors.ExceedsWithdrawable):
        event.withdraw_proceeds(organiser.address, 1, sender=organiser)

    for fan, ids in tokens.items():
        event.claim_refund(ids, sender=fan)
        assert_solvent(chain, event)
    assert event.owed() == 0 and chain.balance(event.address) == 0


def test_royalties_paid_directly_to_receiver(chain, make_event, organiser, fans):
    receiver = fans[7]
    event = make_event(royalty_receiver=receiver.address, royalty_bps=750)
    alice, bob = fans[0], fans[1]
    [token] = event.buy(GENERAL, 1, sender=alice)
    price = event.resale_cap_of(token)
    event.list_for_resale(token, price, sender=alice)
    balances = {a: chain.balance(a.address) for a in (alice, receiver)}
    contract_before = chain.balance(event.address)

    receipt = event.buy_resale(token, sender=bob, value=price + 777)  # excess comes back
    royalty = price * 750 // 10_000
    [sold] = logs(event, receipt, "ResaleBought")
    assert sold["args"]["royalty"] == royalty and sold["args"]["price"] == price
    assert chain.balance(receiver.address) == balances[receiver] + royalty
    assert chain.balance(alice.address) == balances[alice] + price - royalty
    assert chain.balance(event.address) == contract_before  # nothing stays in the contract
    assert event.credit_of(receiver.address) == 0 and event.credit_of(alice.address) == 0
    assert event.owner_of(token) == bob.address


def test_balance_covers_owed_after_every_step(chain, make_event, organiser, fans, deploy_attacker):
    event = make_event(gifts_allowed=True)
    alice, bob, carol = fans[0], fans[1], fans[2]
    steps = []

    def step(label, fn):
        fn()
        steps.append(label)
        assert chain.balance(event.address) >= event.owed(), label
        assert event.withdrawable_proceeds() == chain.balance(event.address) - event.owed(), label

    rejecter = deploy_attacker(event, carol)
    a = []
    step("alice buys", lambda: a.extend(event.buy(GENERAL, 3, sender=alice)))
    step("bob buys VIP", lambda: event.buy(VIP, 1, sender=bob, value=VIP_PRICE + 5))
    step("airdrop", lambda: event.mint_batch(GENERAL, [carol.address, bob.address], sender=organiser))
    step("rejecter buys", lambda: chain.send(rejecter.functions.buy(GENERAL, 1), carol, value=GA_PRICE))
    r_token = event.total_minted()
    step("rejecter lists", lambda: chain.send(rejecter.functions.list(r_token, GA_PRICE), carol))
    step("rejecter rejects", lambda: chain.send(rejecter.functions.configure(MODE_REJECT, 0, False), carol))
    step("alice lists", lambda: event.list_for_resale(a[0], event.resale_cap_of(a[0]), sender=alice))
    step("bob buys resale", lambda: event.buy_resale(a[0], sender=bob))
    step("bob buys from rejecter", lambda: event.buy_resale(r_token, sender=bob))  # seller credited
    assert event.credit_of(rejecter.address) > 0
    step("alice gifts", lambda: event.gift(a[1], carol.address, sender=alice))
    step(
        "withdraw free proceeds",
        lambda: event.withdraw_proceeds(organiser.address, event.withdrawable_proceeds(), sender=organiser),
    )
    step("cancel", lambda: event.cancel_event(sender=organiser))
    step("carol claims gift", lambda: event.claim_refund([a[1]], sender=carol))
    step("refund half", lambda: event.refund_batch(list(range(1, 4)), sender=organiser))
    step("refund all", lambda: event.refund_batch(list(range(1, event.total_minted() + 1)), sender=organiser))
    step("rejecter accepts", lambda: chain.send(rejecter.functions.configure(MODE_NONE, 0, False), carol))
    step("rejecter withdraws", lambda: chain.send(rejecter.functions.withdrawCredit(), carol))
    step(
        "withdraw rest",
        lambda: event.withdraw_proceeds(organiser.address, event.withdrawable_proceeds(), sender=organiser),
    )
    assert event.refund_reserve() == 0 and event.owed() == 0
    assert chain.balance(event.address) == 0
    assert len(steps) == 18
