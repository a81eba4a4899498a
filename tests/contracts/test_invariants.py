"""Stateful property test: random sequences of sales, resales, gifts, check-ins, cancellation, refunds,
withdrawals and time travel over one collection on the shared anvil, with the collection's invariants
checked after every step.

Bounded for CI (15 examples x 20 steps, well under a minute). For a longer soak outside CI:
    TICKETKIT_SOAK_STEPS=200 TICKETKIT_SOAK_EXAMPLES=100 pytest tests/contracts/test_invariants.py
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

import ticketkit as tk
from tests.utils import ETH
from ticketkit import errors

STEPS = int(os.environ.get("TICKETKIT_SOAK_STEPS", "20"))
EXAMPLES = int(os.environ.get("TICKETKIT_SOAK_EXAMPLES", "15"))
SOAK = "TICKETKIT_SOAK_STEPS" in os.environ

DAY = 86400
CAP_BPS = 12_000
TIERS = [("GA", ETH // 10, 6, 3), ("VIP", ETH // 2, 3, 0)]  # name, face value, supply, max per wallet
NOT_OWNER = errors.error_class("TransferFromIncorrectOwner")

fan_index = st.integers(0, 5)


class CollectionMachine(RuleBasedStateMachine):
    """Set by the test: chain, the collection (made once), organiser, fans."""

    chain: tk.Chain
    event: tk.Collection
    organiser = None
    fans: ClassVar[list] = []
    outcomes: ClassVar[Counter] = Counter()  # "rule: ok|Error" -> count, printed by the test (see with -s)

    def __init__(self):
        super().__init__()
        self.snapshot = self.chain.snapshot()
        info = self.event.event_info()
        self.start, self.lock = info["start_time"], info["transfer_lock_time"]
        self.badge = self.event.badge()
        self.event_id = self.badge.event_id_of(self.event.address)
        self.used_owner: dict[int, str] = {}  # used ticket -> its owner when checked in
        self.badges: dict[int, str] = {}  # badge id -> holder
        self.cancelled = False
        self._cache: tuple[int, dict] = (-1, {})

    def teardown(self):
        self.chain.revert_to(self.snapshot)

    # ---- helpers
    def fan(self, i):
        return self.fans[i]

    def now(self) -> int:
        return self.chain.timestamp()

    def tickets(self) -> dict[int, tk.Ticket | None]:
        """Every minted token id -> its ticket (None once burned), read once per block."""
        block = self.chain.w3.eth.block_number
        if self._cache[0] != block:
            tickets: dict[int, tk.Ticket | None] = {}
            for token in range(1, self.event.total_minted() + 1):
                try:
                    tickets[token] = self.event.ticket(token)
                except errors.TicketDoesNotExist:
                    tickets[token] = None
            self._cache = (block, tickets)
        return self._cache[1]

    def owner(self, token: int) -> str | None:
        t = self.tickets().get(token)
        return t.owner if t else None

    def pick(self, data, only=lambda t: True) -> int:
        """A token id: mostly one that exists (and passes `only`), sometimes a burned or unknown one."""
        tickets = self.tickets()
        live = [token for token, t in tickets.items() if t is not None and only(t)]
        dead = [token for token, t in tickets.items() if t is None] + [len(tickets) + 1]
        if live and data.draw(st.integers(0, 9), label="live?") < 8:
            return data.draw(st.sampled_from(live), label="token")
        return data.draw(st.sampled_from(dead), label="dead token")

    def attempt(self, fn, *allowed: type[Exception]):
        """Run `fn`; a revert is fine only if it is one of `allowed` (then return it)."""
        rule_name = sys._getframe(1).f_code.co_name
        try:
            fn()
        except errors.ContractRevert as error:
            assert isinstance(error, allowed), f"unexpected {error!r}"
            self.outcomes[f"{rule_name}: {type(error).__name__}"] += 1
            return error
        self.outcomes[f"{rule_name}: ok"] += 1
        return None

    # ---- rules
    @initialize()
    def start_state(self):
        assert not self.event.event_info()["cancelled"]

    @rule(who=fan_index, tier=st.sampled_from([0, 1]), quantity=st.integers(1, 3))
    def buy(self, who, tier, quantity):
        self.attempt(
            lambda: self.event.buy(tier, quantity, sender=self.fan(who)),
            errors.SoldOut,
            errors.WalletCapExceeded,
            errors.SaleNotOpen,
            errors.EventIsCancelled,
        )

    @rule(recipients=st.lists(fan_index, min_size=1, max_size=3), tier=st.sampled_from([0, 1]))
    def mint_batch(self, recipients, tier):
        addresses = [self.fan(i).address for i in recipients]
        self.attempt(
            lambda: self.event.mint_batch(tier, addresses, sender=self.organiser),
            errors.SoldOut,
            errors.EventIsCancelled,
        )

    @rule(data=st.data(), bps=st.integers(0, 15_000))
    def list_ticket(self, data, bps):
        token = self.pick(data)
        t = self.tickets().get(token)
        if t is None:
            return
        seller = next(f for f in self.fans if f.address == t.owner)
        cap = t.face_value * CAP_BPS // 10_000
        price = t.face_value * bps // 10_000
        error = self.attempt(
            lambda: self.event.list_for_resale(token, price, sender=seller),
            errors.PriceAboveCap,
            errors.TicketAlreadyUsed,
            errors.EventIsCancelled,
            errors.TransfersLocked,
        )
        listable = not t.used and not self.cancelled and self.now() < self.lock
        if listable and price > cap:
            assert isinstance(error, errors.PriceAboveCap) and error.cap == cap and error.price == price
        elif listable:
            assert error is None
            assert self.event.ticket(token).listed_price == price

    @rule(data=st.data(), who=fan_index)
    def buy_resale(self, data, who):
        token = self.pick(data, only=lambda t: t.listed_by is not None)
        buyer = self.fan(who)
        t = self.tickets().get(token)
        price = t.listed_price if t else None
        self.attempt(
            lambda: self.event.buy_resale(token, sender=buyer, value=price or 0),
            errors.NotListed,
            errors.TicketAlreadyUsed,
            errors.EventIsCancelled,
            errors.TransfersLocked,
        )

    @rule(data=st.data(), who=fan_index, to=fan_index)
    def gift_or_transfer(self, data, who, to):
        """Gifts are on: the holder may move a ticket; anyone else may not."""
        token = self.pick(data)
        holder = self.owner(token)
        if holder is not None and data.draw(st.booleans(), label="as holder"):
            who = next(i for i, f in enumerate(self.fans) if f.address == holder)
        sender, recipient = self.fan(who), self.fan(to)
        fn = self.event.contract.functions.transferFrom(holder or sender.address, recipient.address, token)
        error = self.attempt(
            lambda: self.chain.send(fn, sender),
            errors.TransferNotAllowed,
            errors.TicketAlreadyUsed,
            errors.EventIsCancelled,
            errors.TransfersLocked,
            NOT_OWNER,
            errors.error_class("TokenDoesNotExist"),
        )
        if holder is not None and holder != sender.address and error is None:
            raise AssertionError(f"{sender.address} moved {holder}'s ticket {token}")

    @rule(data=st.data(), size=st.integers(1, 4))
    def check_in(self, data, size):
        tokens = [self.pick(data) for _ in range(size)]
        owners = {t: self.owner(t) for t in tokens}
        try:
            admitted, skipped = self.event.check_in(tokens, sender=self.organiser)
        except errors.EventIsCancelled:
            assert self.cancelled
            self.outcomes["check_in: EventIsCancelled"] += 1
            return
        self.outcomes[f"check_in: {len(admitted)} admitted, {len(skipped)} skipped"] += 1
        for token in admitted:
            self.used_owner[token] = owners[token]
            self.badges[self.badge.badge_id(self.event_id, owners[token])] = owners[token]
        for token, reason in skipped.items():
            expected = tk.SKIP_NOT_FOUND if owners[token] is None else tk.SKIP_ALREADY_USED
            assert reason == expected

    @rule(roll=st.integers(0, 7))
    def cancel(self, roll):
        if roll != 5:  # a rare event: most runs should see sales and check-ins first
            return
        error = self.attempt(
            lambda: self.event.cancel_event(sender=self.organiser),
            errors.EventIsCancelled,
            errors.EventAlreadyStarted,
        )
        if error is None:
            self.cancelled = True

    @rule(who=fan_index)
    def claim_refund(self, who):
        fan = self.fan(who)
        mine = [
            token
            for token, t in self.tickets().items()
            if t and t.owner == fan.address and (t.paid_on_chain or not t.used)
        ]
        if not mine:
            return
        self.attempt(
            lambda: self.event.claim_refund(mine, sender=fan), errors.EventNotCancelled, errors.NotRefundable
        )

    @rule(data=st.data(), size=st.integers(1, 6))
    def refund_batch(self, data, size):
        tokens = [self.pick(data) for _ in range(size)]
        self.attempt(lambda: self.event.refund_batch(tokens, sender=self.organiser), errors.EventNotCancelled)

    @rule(fraction=st.sampled_from([0.0, 0.5, 1.0, 1.5]))
    def withdraw_proceeds(self, fraction):
        available = self.event.withdrawable_proceeds()
        amount = int(available * fraction)
        error = self.attempt(
            lambda: self.event.withdraw_proceeds(self.organiser.address, amount, sender=self.organiser),
            errors.ExceedsWithdrawable,
        )
        assert (error is not None) == (amount > available)

    @rule(days=st.integers(1, 6))
    def travel(self, days):
        self.chain.travel_to(self.now() + days * DAY)

    # ---- invariants
    @invariant()
    def minted_within_supply(self):
        for tier in self.event.tiers():
            assert tier.minted <= tier.supply

    @invariant()
    def listings_within_cap(self):
        for t in self.tickets().values():
            if t is not None and t.listed_price is not None:
                assert t.listed_price <= t.face_value * CAP_BPS // 10_000
                assert t.listed_by == t.owner

    @invariant()
    def used_tickets_never_move(self):
        tickets = self.tickets()
        for token, owner in self.used_owner.items():
            t = tickets[token]
            # A used ticket may be burned by a refund (cancelled after doors opened), never moved.
            assert t is None or (t.used and t.owner == owner)

    @invariant()
    def badges_never_move(self):
        for badge_id, holder in self.badges.items():
            assert self.badge.contract.functions.ownerOf(badge_id).call() == holder

    @invariant()
    def solvent(self):
        balance = self.chain.balance(self.event.address)
        assert balance >= self.event.owed()
        assert self.event.withdrawable_proceeds() == balance - self.event.owed()


def test_collection_invariants(chain, make_event, organiser, fans):
    now = chain.timestamp()
    tiers = [
        tk.TierConfig(
            name,
            face_value=face,
            supply=supply,
            max_per_wallet=per_wallet,
            sale_start=now - 1,
            sale_end=now + 20 * DAY,
        )
        for name, face, supply, per_wallet in TIERS
    ]
    event = make_event(tiers=tiers, resale_cap_bps=CAP_BPS, gifts_allowed=True, royalty_bps=500)

    class Machine(CollectionMachine):
        outcomes: ClassVar[Counter] = Counter()

    Machine.chain, Machine.event, Machine.organiser, Machine.fans = chain, event, organiser, fans[:6]
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print("\n".join(f"{n:5d}  {k}" for k, n in sorted(Machine.outcomes.items())))


if SOAK:
    test_collection_invariants = pytest.mark.slow(test_collection_invariants)
