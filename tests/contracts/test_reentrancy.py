"""Re-entrancy: a contract holder (tests/contracts/sol/Attacker.sol) re-enters the collection when paid.

Two defences are exercised on a real anvil:
- pushed payments (_pay: resale proceeds, change, refund_batch) carry a 2300-gas stipend, too little
  to call back in; a push that fails is credited instead, so nobody is paid twice or blocks anyone;
- full-gas sends (claimRefund, withdrawCredit) sit behind nonReentrant: the re-entry reverts with
  ReentrancyGuardReentrantCall, and either the whole call fails (nothing moves) or the attacker
  swallows the failure and is paid exactly once.
"""

from __future__ import annotations

import pytest
from eth_utils import function_signature_to_4byte_selector
from web3.logs import DISCARD

import ticketkit as tk
from tests.utils import ETH
from ticketkit import errors

GENERAL = 0
GA_PRICE = ETH // 10

# Attacker.Mode
NONE, REJECT, REENTER_BUY_RESALE, REENTER_CLAIM_REFUND, REENTER_WITHDRAW_CREDIT = range(5)
REENTRANT_CALL = errors.error_class("ReentrancyGuardReentrantCall")
REENTRANT_SELECTOR = function_signature_to_4byte_selector("ReentrancyGuardReentrantCall()")


def gas_cost(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def logs(collection: tk.Collection, receipt, name: str):
    return collection.contract.events[name]().process_receipt(receipt, errors=DISCARD)


def attacker_tokens(event: tk.Collection, attacker) -> list[int]:
    return [
        t
        for t in range(1, event.total_minted() + 1)
        if event.exists(t) and event.owner_of(t) == attacker.address
    ]


@pytest.fixture()
def setup(chain, event, fans, deploy_attacker):
    """mallory's attacker contract holds two GA tickets; carol lists one of hers cheaply (a bait)."""
    mallory, carol = fans[4], fans[2]
    attacker = deploy_attacker(event, mallory)
    chain.send(attacker.functions.buy(GENERAL, 2), mallory, value=2 * GA_PRICE)
    mine = attacker_tokens(event, attacker)
    assert len(mine) == 2 and chain.balance(attacker.address) == 0
    [bait] = event.buy(GENERAL, 1, sender=carol)
    event.list_for_resale(bait, GA_PRICE // 2, sender=carol)
    return attacker, mallory, mine, bait, carol


@pytest.mark.parametrize("mode", [REENTER_BUY_RESALE, REENTER_CLAIM_REFUND, REENTER_WITHDRAW_CREDIT])
@pytest.mark.parametrize("bubble", [True, False], ids=["bubble", "swallow"])
def test_reentry_when_paid_by_buy_resale(chain, event, organiser, fans, setup, mode, bubble):
    attacker, mallory, (sold, other), bait, carol = setup
    bob = fans[1]
    price = event.resale_cap_of(sold)
    chain.send(attacker.functions.list(sold, price), mallory)
    target = {REENTER_BUY_RESALE: bait, REENTER_CLAIM_REFUND: other, REENTER_WITHDRAW_CREDIT: 0}[mode]
    chain.send(attacker.functions.configure(mode, target, bubble), mallory)

    royalty = price * 500 // 10_000
    contract_before = chain.balance(event.address)
    org_before = chain.balance(organiser.address)
    bob_before = chain.balance(bob.address)

    # The sale goes through: the stipend push to the attacker fails (re-entry impossible) and is credited.
    receipt = event.buy_resale(sold, sender=bob)
    assert event.owner_of(sold) == bob.address
    credited = logs(event, receipt, "PaymentCredited")
    assert [(e["args"]["account"], e["args"]["amount"]) for e in credited] == [
        (attacker.address, price - royalty)
    ]
    assert event.credit_of(attacker.address) == price - royalty
    assert chain.balance(attacker.address) == 0
    assert attacker.functions.reentered().call() == 0
    assert event.owner_of(bait) == carol.address and event.ticket(bait).listed_price == GA_PRICE // 2
    assert event.owner_of(other) == attacker.address
    # Money is conserved: bob paid the price, the organiser got the royalty, the rest waits in credit.
    assert chain.balance(bob.address) == bob_before - price - gas_cost(receipt)
    assert chain.balance(organiser.address) == org_before + royalty
    assert chain.balance(event.address) == contract_before + price - royalty
    assert chain.balance(event.address) >= event.owed()

    # Now the full-gas withdrawal, with the attacker re-entering from receive().
    credit = price - royalty
    if bubble:
        with pytest.raises(REENTRANT_CALL):
            chain.send(attacker.functions.withdrawCredit(), mallory)
        assert event.credit_of(attacker.address) == credit
        assert chain.balance(attacker.address) == 0
        chain.send(attacker.functions.configure(NONE, 0, False), mallory)  # give up: withdraw honestly
        chain.send(attacker.functions.withdrawCredit(), mallory)
    else:
        chain.send(attacker.functions.withdrawCredit(), mallory)
        assert attacker.functions.lastError().call() == REENTRANT_SELECTOR
    assert attacker.functions.reentered().call() == 0
    assert chain.balance(attacker.address) == credit  # paid exactly once
    assert event.credit_of(attacker.address) == 0
    assert chain.balance(event.address) == contract_before
    assert event.owner_of(bait) == carol.address and event.owner_of(other) == attacker.address
    with pytest.raises(errors.NothingToWithdraw):
        chain.send(attacker.functions.withdrawCredit(), mallory)


@pytest.mark.parametrize("same_token", [True, False], ids=["same-ticket", "other-ticket"])
@pytest.mark.parametrize("bubble", [True, False], ids=["bubble", "swallow"])
def test_reentry_into_claim_refund(chain, event, organiser, setup, same_token, bubble):
    attacker, mallory, (first, second), _, _ = setup
    event.cancel_event(sender=organiser)
    reserve = event.refund_reserve()
    contract_before = chain.balance(event.address)
    chain.send(
        attacker.functions.configure(REENTER_CLAIM_REFUND, first if same_token else second, bubble), mallory
    )

    if bubble:
        with pytest.raises(REENTRANT_CALL):
            chain.send(attacker.functions.claimRefund([first]), mallory)
        # Nothing moved.
        assert event.owner_of(first) == attacker.address
        assert event.refund_reserve() == reserve
        assert chain.balance(attacker.address) == 0
        assert chain.balance(event.address) == contract_before
        return

    chain.send(attacker.functions.claimRefund([first]), mallory)
    assert attacker.functions.lastError().call() == REENTRANT_SELECTOR
    assert attacker.functions.reentered().call() == 0
    assert chain.balance(attacker.address) == GA_PRICE  # one refund, not two
    assert not event.exists(first) and event.owner_of(second) == attacker.address
    assert event.refund_reserve() == reserve - GA_PRICE
    assert chain.balance(event.address) == contract_before - GA_PRICE
    with pytest.raises(errors.NotTicketOwner):
        chain.send(attacker.functions.claimRefund([first]), mallory)

    # The remaining ticket is refunded normally, once.
    chain.send(attacker.functions.configure(NONE, 0, False), mallory)
    chain.send(attacker.functions.claimRefund([second]), mallory)
    assert chain.balance(attacker.address) == 2 * GA_PRICE
    assert event.refund_reserve() == reserve - 2 * GA_PRICE
    assert chain.balance(event.address) >= event.owed()


@pytest.mark.parametrize("mode", [REENTER_CLAIM_REFUND, REENTER_WITHDRAW_CREDIT, REJECT])
def test_refund_batch_push_cannot_be_reentered_or_blocked(chain, event, organiser, fans, setup, mode):
    attacker, mallory, (first, second), bait, carol = setup
    event.cancel_event(sender=organiser)
    chain.send(attacker.functions.configure(mode, second, True), mallory)
    carol_before = chain.balance(carol.address)

    receipt = event.refund_batch([first, bait, second], sender=organiser)
    assert len(logs(event, receipt, "Refunded")) == 3
    assert chain.balance(carol.address) == carol_before + GA_PRICE  # not blocked by the attacker
    assert event.credit_of(attacker.address) == 2 * GA_PRICE
    assert chain.balance(attacker.address) == 0
    assert event.refund_reserve() == 0 and event.owed() == 2 * GA_PRICE
    assert chain.balance(event.address) == 2 * GA_PRICE

    chain.send(attacker.functions.configure(NONE, 0, False), mallory)
    chain.send(attacker.functions.withdrawCredit(), mallory)
    assert chain.balance(attacker.address) == 2 * GA_PRICE
    assert chain.balance(event.address) == 0 and event.owed() == 0


def test_change_to_reentering_buyer_is_credited(chain, event, fans, setup):
    """The attacker as a resale buyer who overpays: its change is pushed with the stipend."""
    attacker, mallory, (_mine, _), bait, carol = setup
    price = GA_PRICE // 2
    [other] = event.buy(GENERAL, 1, sender=carol)
    event.list_for_resale(other, price, sender=carol)
    chain.send(attacker.functions.configure(REENTER_BUY_RESALE, other, True), mallory)
    carol_before = chain.balance(carol.address)
    contract_before = chain.balance(event.address)

    chain.send(attacker.functions.buyResale(bait), mallory, value=price + 1000)
    assert event.owner_of(bait) == attacker.address
    assert event.owner_of(other) == carol.address  # the re-entered purchase did not happen
    assert event.credit_of(attacker.address) == 1000
    royalty = price * 500 // 10_000
    assert chain.balance(carol.address) == carol_before + price - royalty
    assert chain.balance(event.address) == contract_before + 1000
    assert chain.balance(event.address) >= event.owed()
