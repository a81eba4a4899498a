"""An edited CSV mints exactly the difference per recipient and tier (issue 14), on a real anvil."""

from __future__ import annotations

from collections import Counter

import pytest
from eth_account import Account

import ticketkit as tk
from ticketkit.batch import Recipient, mint_recipients
from ticketkit.mint_plan import airdropped, plan_mint

ETH = 10**18


def _addresses(n: int, seed: int = 7) -> list[str]:
    return [Account.from_key((seed * 10**6 + i + 1).to_bytes(32, "big")).address for i in range(n)]


@pytest.fixture()
def gig(chain, make_event):
    now = chain.timestamp()
    return make_event(
        tiers=[
            tk.TierConfig(
                "General",
                face_value=ETH // 100,
                supply=500,
                sale_start=now - 1,
                sale_end=now + 86400,
                max_per_wallet=2,
            ),
            tk.TierConfig("VIP", face_value=ETH // 10, supply=100, sale_start=now - 1, sale_end=now + 86400),
        ]
    )


class Interrupt:
    """Ctrl-C after `after` chunks were sent (the first progress call is the starting point)."""

    def __init__(self, after: int):
        self.after, self.calls = after, 0

    def __call__(self, done: int, total: int) -> None:
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt


def _rows(spec: list[tuple[str, int, int]]) -> list[Recipient]:
    return [Recipient(a, t, q, i + 2) for i, (a, t, q) in enumerate(spec)]


def _wanted(rows) -> Counter:
    return Counter({(r.tier_id, r.address): r.quantity for r in rows})


def _base(n: int = 30) -> list[tuple[str, int, int]]:
    people = _addresses(n)
    return [(a, i % 2, 1 + (i % 3 == 0)) for i, a in enumerate(people)]


def test_appended_row_mints_only_that_row(gig, organiser):
    rows = _rows(_base())
    first = mint_recipients(gig, rows, organiser, chunk_size=8)
    assert first.minted_now == first.total == sum(r.quantity for r in rows)
    late = _addresses(1, seed=8)[0]
    edited = rows + [Recipient(late, 0, 2, 99)]
    before = gig.total_minted()
    report = mint_recipients(gig, edited, organiser, chunk_size=8)
    assert report.minted_now == 2 and report.already_minted == first.total
    assert gig.total_minted() == before + 2
    assert airdropped(gig) == _wanted(edited)


def test_interrupted_run_then_appended_row_never_mints_twice(gig, organiser):
    rows = _rows(_base(40))
    with pytest.raises(KeyboardInterrupt):
        mint_recipients(gig, rows, organiser, chunk_size=5, progress=Interrupt(after=3))
    gig.chain.wait_for_pending(organiser.address, timeout=10)
    sent = gig.total_minted()
    assert 0 < sent < sum(r.quantity for r in rows)
    edited = rows + [Recipient(_addresses(1, seed=9)[0], 1, 3, 99)]
    report = mint_recipients(gig, edited, organiser, chunk_size=5)
    assert report.already_minted == sent and report.done
    assert airdropped(gig) == _wanted(edited)  # nothing minted twice
    assert gig.total_minted() == sum(r.quantity for r in edited)


def test_reordered_csv_mints_nothing(gig, organiser):
    rows = _rows(_base())
    mint_recipients(gig, rows, organiser, chunk_size=7)
    shuffled = list(reversed(rows[10:])) + rows[:10]
    report = mint_recipients(gig, shuffled, organiser, chunk_size=3)
    assert report.minted_now == 0 and report.transactions == [] and report.done
    assert report.plan.beyond_file == []


def test_quantity_change_mints_the_extra_and_reports_a_lowered_one(gig, organiser):
    a, b = _addresses(2, seed=10)
    mint_recipients(gig, _rows([(a, 1, 2), (b, 1, 3)]), organiser)
    report = mint_recipients(gig, _rows([(a, 1, 5), (b, 1, 1)]), organiser)
    assert report.minted_now == 3 and report.already_minted == 2 + 1
    [lowered] = report.plan.beyond_file
    assert (lowered.address, lowered.wanted, lowered.on_chain, lowered.beyond_file) == (b, 1, 3, 2)
    assert gig.balance_of(b) == 3  # reported, never burned
    assert airdropped(gig)[(1, a)] == 5
    text = "\n".join(report.plan.describe(["General", "VIP"]))
    assert "on chain but not in the file: 2 tickets of 1 recipients" in text and b in text


def test_two_csvs_for_one_collection(gig, organiser, fans):
    a, b, c = _addresses(3, seed=11)
    gig.buy(0, 2, sender=fans[0])  # purchases are not airdrops: never count against a file
    mint_recipients(gig, _rows([(a, 0, 1), (b, 0, 1)]), organiser)
    second = _rows([(b, 0, 1), (c, 0, 2), (fans[0].address, 0, 1)])
    plan = plan_mint(gig, second)
    assert {x.address: x.to_mint for x in plan.lines if x.to_mint} == {c: 2, fans[0].address: 1}
    assert [(x.address, x.beyond_file) for x in plan.beyond_file] == [(a, 1)]
    report = mint_recipients(gig, second, organiser, dry_run=True, on_plan=lambda p: None)
    assert report.minted_now == 0 and gig.total_minted() == 4  # a dry run sends nothing
    report = mint_recipients(gig, second, organiser)
    assert report.minted_now == 3 and gig.balance_of(a) == 1
    assert mint_recipients(gig, second, organiser).minted_now == 0


def test_interrupted_run_of_an_edited_csv(gig, organiser):
    rows = _rows(_base(20))
    mint_recipients(gig, rows, organiser, chunk_size=10)
    extra = _addresses(25, seed=12)
    edited = (
        [Recipient(r.address, r.tier_id, r.quantity + 1, r.line) for r in rows[:5]]
        + rows[5:]
        + [Recipient(x, 0, 1, 100 + i) for i, x in enumerate(extra)]
    )
    with pytest.raises(KeyboardInterrupt):
        mint_recipients(gig, edited, organiser, chunk_size=4, progress=Interrupt(after=2))
    gig.chain.wait_for_pending(organiser.address, timeout=10)
    report = mint_recipients(gig, edited, organiser, chunk_size=4)
    assert report.done and report.already_minted + report.minted_now == sum(r.quantity for r in edited)
    assert airdropped(gig) == _wanted(edited)


def test_plan_warns_about_airdrops_above_the_per_wallet_cap(gig, organiser):
    a, b = _addresses(2, seed=13)
    plan = plan_mint(gig, _rows([(a, 0, 3), (b, 0, 2)]))
    assert [x.address for x in plan.above_cap] == [a]
    assert any("above its per-wallet cap of 2" in line for line in plan.describe(["General", "VIP"]))
