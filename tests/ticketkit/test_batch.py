"""Resumable airdrops from a CSV and resumable refunds, against a real anvil."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from eth_account import Account

import ticketkit as tk
from ticketkit.batch import (
    MAX_IN_FLIGHT,
    Recipient,
    job_id,
    mint_recipients,
    parse_recipients,
    read_recipients,
    refund_all,
)
from ticketkit.errors import InvalidInput

ETH = 10**18


def _addresses(n: int, seed: int = 0) -> list[str]:
    return [Account.from_key((seed * 10**6 + i + 1).to_bytes(32, "big")).address for i in range(n)]


@pytest.fixture()
def big_event(chain, make_event):
    now = chain.timestamp()
    return make_event(
        tiers=[
            tk.TierConfig(
                "General", face_value=ETH // 100, supply=2_000, sale_start=now - 1, sale_end=now + 86400
            ),
            tk.TierConfig("VIP", face_value=ETH // 10, supply=500, sale_start=now - 1, sale_end=now + 86400),
        ]
    )


class Interrupt:
    """A progress callback that presses Ctrl-C after `after` chunks were sent in this run."""

    def __init__(self, after: int):
        self.after, self.calls = after, 0

    def __call__(self, done: int, total: int) -> None:
        self.calls += 1
        if self.calls > self.after:  # the first call reports the starting point, before any chunk
            raise KeyboardInterrupt


def _mints(collection) -> dict[int, tuple[str, int]]:
    """token id -> (first holder, tier), from the collection's logs (fast, unlike a read per ticket)."""
    w3 = collection.chain.w3
    tiers = {}
    for log in collection.contract.events.TicketsMinted().get_logs(from_block=0):
        for token_id in range(log.args.firstTokenId, log.args.firstTokenId + log.args.quantity):
            tiers[token_id] = log.args.tierId
    for log in collection.contract.events.TicketsPurchased().get_logs(from_block=0):
        for token_id in range(log.args.firstTokenId, log.args.firstTokenId + log.args.quantity):
            tiers[token_id] = log.args.tierId
    zero = "0x" + "00" * 32
    holders = {}
    for log in w3.eth.get_logs(
        {
            "address": collection.address,
            "fromBlock": 0,
            "topics": [collection.contract.events.Transfer().topic, zero],
        }
    ):
        holders[int.from_bytes(log["topics"][3], "big")] = w3.to_checksum_address(log["topics"][2][-20:])
    return {token_id: (holders[token_id], tiers[token_id]) for token_id in sorted(holders)}


def test_mint_1000_survives_a_crash_and_resumes(big_event, organiser):
    # 700 General (some with quantity 2 or 3), 300 VIP
    addresses = _addresses(550)
    rows = []
    for i, address in enumerate(addresses[:450]):
        rows.append(Recipient(address, 0, quantity=1 + (i % 3 == 0) + (i % 7 == 0), line=i + 2))
    general = sum(r.quantity for r in rows)
    rows += [Recipient(a, 1, quantity=3, line=500 + i) for i, a in enumerate(addresses[450:550])]
    rows.append(Recipient(addresses[0], 0, quantity=1000 - general - 300, line=999))
    assert sum(r.quantity for r in rows) == 1000

    with pytest.raises(KeyboardInterrupt):
        mint_recipients(big_event, rows, organiser, chunk_size=100, progress=Interrupt(after=3))
    big_event.chain.wait_for_pending(
        organiser.address, timeout=10
    )  # the third chunk was sent, then the run stopped
    assert big_event.total_minted() == 300

    seen = []
    report = mint_recipients(
        big_event, rows, organiser, chunk_size=100, progress=lambda done, total: seen.append((done, total))
    )
    assert report.already_minted == 300 and report.minted_now == 700 and report.done
    assert seen[0] == (300, 1000) and seen[-1] == (1000, 1000) and len(seen) == 8
    assert big_event.total_minted() == 1000

    expected = Counter()
    for row in rows:
        expected[(row.address, row.tier_id)] += row.quantity
    mints = _mints(big_event)
    assert len(mints) == 1000
    assert Counter(mints.values()) == expected

    # A third run has nothing left to do.
    again = mint_recipients(big_event, rows, organiser, chunk_size=100)
    assert again.already_minted == 1000 and again.minted_now == 0 and big_event.total_minted() == 1000


def test_rerun_with_other_chunk_size_and_other_jobs_in_between(big_event, organiser, fans):
    rows = [Recipient(a, 0, 2) for a in _addresses(60, seed=1)]
    with pytest.raises(KeyboardInterrupt):
        mint_recipients(big_event, rows, organiser, chunk_size=50, progress=Interrupt(after=1))
    # Other activity on the same tier: a purchase, and an airdrop to the same people by another tool.
    big_event.buy(0, 2, sender=fans[0])
    big_event.mint_batch(0, _addresses(5, seed=1), sender=organiser)
    report = mint_recipients(big_event, rows, organiser, chunk_size=7)
    assert report.already_minted == 50 and report.minted_now == 70
    # The other airdrop gave the first 5 recipients a third ticket: reported, not minted again or burned.
    assert [(x.address, x.beyond_file) for x in report.plan.beyond_file] == [
        (a, 1) for a in _addresses(5, seed=1)
    ]
    assert big_event.tier(0).minted == 120 + 2 + 5


def test_job_id_depends_on_the_plan(big_event):
    a = _addresses(3)
    assert job_id(big_event, 0, a) == job_id(big_event, 0, list(a))
    assert job_id(big_event, 0, a) != job_id(big_event, 1, a)
    assert job_id(big_event, 0, a) != job_id(big_event, 0, a[::-1])


def test_not_enough_supply_refused_before_sending(big_event, organiser):
    rows = [Recipient(a, 1, 3) for a in _addresses(200, seed=2)]
    with pytest.raises(tk.errors.SoldOut):
        mint_recipients(big_event, rows, organiser)
    assert big_event.total_minted() == 0


def test_csv_reads_names_indexes_and_quantities(tmp_path):
    a, b = _addresses(2)
    path = tmp_path / "r.csv"
    path.write_text(
        f"Address,Tier,Quantity,email\n{a.lower()},VIP,2,x@y\n\n# comment\n{b},0,,\n{a},General,1\n"
    )
    rows = read_recipients(path, tier_names=["General", "VIP"])
    assert rows == [Recipient(a, 1, 2, 2), Recipient(b, 0, 1, 5), Recipient(a, 0, 1, 6)]


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("{a},0\n0x123,0\n", 3, "not a valid address"),
        ("{a},0\n{b},1\n{a_lower},0\n", 4, "duplicate row"),
        ("{a},Balcony\n", 2, "no tier named"),
        ("{a},7\n", 2, "does not exist"),
        ("{a},0,0\n", 2, "quantity"),
        ("{a},0,two\n", 2, "quantity"),
        ("{bad_checksum},0\n", 2, "checksum"),
        ("0x0000000000000000000000000000000000000000,0\n", 2, "zero address"),
    ],
)
def test_csv_errors_name_the_line(body, line, words):
    a, b = _addresses(2)
    k = next(i for i in range(2, 42) if a[i].isalpha())
    bad_checksum = a[:k] + a[k].swapcase() + a[k + 1 :]
    text = "address,tier,quantity\n" + body.format(a=a, b=b, a_lower=a.lower(), bad_checksum=bad_checksum)
    with pytest.raises(InvalidInput) as info:
        parse_recipients(text.splitlines(keepends=True), tier_names=["General", "VIP"], source="r.csv")
    assert info.value.where == f"r.csv:{line}"
    assert words in str(info.value)


def test_csv_needs_a_header():
    with pytest.raises(InvalidInput, match="header"):
        parse_recipients(["name,tier\n"], source="r.csv")
    with pytest.raises(InvalidInput, match="empty"):
        parse_recipients([], source="r.csv")


def test_example_csv_is_valid():
    from pathlib import Path

    rows = read_recipients(
        Path(__file__).resolve().parents[2] / "examples" / "recipients.csv",
        tier_names=["General admission", "Balcony VIP"],
    )
    assert rows and all(r.quantity >= 1 for r in rows)


def test_refund_all_resumes(chain, make_event, organiser, fans):
    now = chain.timestamp()
    event = make_event(
        tiers=[
            tk.TierConfig(
                "General", face_value=ETH // 100, supply=200, sale_start=now - 1, sale_end=now + 86400
            )
        ]
    )
    for fan in fans[:5]:
        event.buy(0, 6, sender=fan)  # 30 paid tickets
    mint_recipients(event, [Recipient(fans[5].address, 0, 4)], organiser)  # free: not refundable
    with pytest.raises(tk.errors.EventNotCancelled):
        refund_all(event, organiser)
    event.cancel_event(sender=organiser)
    event.claim_refund([1], sender=fans[0])  # one fan claims a ticket themselves
    before = [chain.balance(f.address) for f in fans[:5]]

    with pytest.raises(KeyboardInterrupt):
        refund_all(event, organiser, chunk_size=10, progress=Interrupt(after=1))
    assert event.refund_reserve() == 19 * ETH // 100
    report = refund_all(event, organiser, chunk_size=10)
    assert report.found == 19 and report.refunded == 19
    assert event.refund_reserve() == 0
    gained = [chain.balance(f.address) - b for f, b in zip(fans[:5], before)]
    assert gained == [5 * ETH // 100] + [6 * ETH // 100] * 4
    assert event.balance_of(fans[5].address) == 4  # free tickets stay
    again = refund_all(event, organiser)
    assert again.found == 0 and again.refunded == 0


def test_a_chunk_failing_on_chain_stops_the_run_and_a_rerun_finishes(chain, make_event, organiser, fans):
    # Once the first chunk is sent, a fan buys almost all the supply left, so the next chunks run out on
    # chain (the pre-flight supply check had passed). Sending stops once a failure is seen: at most
    # MAX_IN_FLIGHT chunks beyond the first, not all 30.
    now = chain.timestamp()
    tier = tk.TierConfig(
        "General", face_value=ETH // 1000, supply=302, sale_start=now - 1, sale_end=now + 86400
    )
    event = make_event(tiers=[tier])
    rows = [Recipient(a, 0, 1) for a in _addresses(300, seed=3)]
    sends = []

    def buy_after_first_chunk(done: int, total: int) -> None:
        sends.append(done)
        if len(sends) == 2:
            event.buy(0, 285, sender=fans[0])

    with pytest.raises(tk.errors.SoldOut):
        mint_recipients(event, rows, organiser, chunk_size=10, progress=buy_after_first_chunk)
    assert event.tier(0).minted == 10 + 285
    assert len(sends) - 1 == 1 + MAX_IN_FLIGHT

    with pytest.raises(tk.errors.SoldOut):  # the rest cannot fit now: refused before sending
        mint_recipients(event, rows, organiser, chunk_size=10)
    event.update_tier(0, dataclasses.replace(tier, supply=600), sender=organiser)
    report = mint_recipients(event, rows, organiser, chunk_size=10)
    assert report.already_minted == 10 and report.minted_now == 290
    assert Counter(
        holder for holder, _tier in _mints(event).values() if holder != fans[0].address
    ) == Counter(r.address for r in rows)
