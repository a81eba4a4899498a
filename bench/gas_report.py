"""Gas report: what each ticketkit operation costs, measured on a local anvil.

    python -m bench.gas_report [--out bench/results/gas.json]

Every figure is a receipt's `gasUsed` (21,000 base and calldata included, EIP-3529 refunds deducted),
so it is what the sender pays for, not an estimate. The figures are deterministic: every byte of
calldata that could vary between runs (fresh holder addresses, salts, the badge address, the
implementation addresses passed to the factory's constructor) is drawn so that it has no zero byte,
because a zero calldata byte costs 4 gas and a non-zero one 16. The chain's clock does not enter
any calldata either (the event's times are fixed constants).

`measure(chain)` runs the whole scenario on an existing Chain (the tests use the session anvil);
each measured operation runs in the steady state of a live event (counters already non-zero),
against holders and buyers that have never touched the collection.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from ticketkit import _artifacts
from ticketkit.chain import Chain, anvil_binary, local_chain
from ticketkit.contracts import ZERO, Badge, Collection, EventConfig, Platform, TierConfig, salt_bytes

__all__ = ["FLOOR_NEW_HOLDER", "NOTES", "ROWS", "main", "measure", "report"]

ETH = 10**18
BATCH = 100
# A ticket to a holder new to the collection writes two storage slots from zero: the token's owner
# slot and the holder's balance slot, each a cold SSTORE 0 -> non-zero (20,000 + 2,100 cold access).
FLOOR_NEW_HOLDER = 44_000

# Fixed event times (no dependence on the chain's clock, so no variation in calldata): sales open
# since timestamp 1, transfers lock and the event starts in 2096.
SALE_START = 1
SALE_END = 3_900_000_000
TRANSFER_LOCK = 3_999_999_000
START_TIME = 4_000_000_000
FACE_VALUE = ETH // 10
RESALE_CAP_BPS = 11_000
RESALE_PRICE = FACE_VALUE * RESALE_CAP_BPS // 10_000
FUNDING = ETH  # what each fresh sender receives

# (label, key of the total, key of the per-ticket figure or None)
ROWS: list[tuple[str, str, str | None]] = [
    ("deploy TicketCollection implementation", "deploy_collection_implementation", None),
    ("deploy AttendanceBadge implementation", "deploy_badge_implementation", None),
    ("deploy TicketFactory", "deploy_factory", None),
    ("new badge (factory clone)", "new_badge", None),
    ("new collection (clone, 2 tiers, badge registration)", "new_collection", None),
    ("new collection, minimal (clone, 1 tier, no badge)", "new_collection_minimal", None),
    ("mint 1 (mintBatch, 1 fresh holder)", "mint_1", None),
    ("mint 100 to distinct fresh holders", "mint_distinct_batch_100", "mint_distinct_per_ticket"),
    (
        "mint 100 to one fresh holder (per extra ticket)",
        "mint_same_holder_batch_100",
        "mint_same_holder_per_extra_ticket",
    ),
    ("buy 1, primary sale, fresh buyer", "buy_primary", None),
    ("list for resale", "list", None),
    ("buy resale (fresh buyer, royalty + seller paid)", "resale_buy", None),
    ("check-in 1 + badge", "checkin_1", None),
    ("check-in 100 distinct holders + badges", "checkin_batch_100", "checkin_with_badge_per_ticket"),
    ("claim refund of 1 (holder)", "refund_claim_1", None),
    ("refund batch of 100 (organiser push)", "refund_batch_100", "refund_per_ticket"),
]

NOTES: dict[str, str] = {
    "method": "receipt gasUsed on anvil (base 21,000 + calldata + execution - refunds); deterministic: "
    "variable calldata (addresses, salts) is drawn without zero bytes; event times are constants",
    "state": "steady state of a live event: _totalMinted, the tier counter and the refund reserve are "
    "already non-zero when a measured operation runs; holders/buyers are new to the collection",
    "floor_new_holder": "a ticket to a holder new to the collection writes 2 slots from zero (owner slot, "
    "balance slot): 2 x (20,000 SSTORE + 2,100 cold) = 44,200 >= 44,000",
    "deploy_collection_implementation": "one-off: TicketCollection implementation (code deposit dominates)",
    "deploy_badge_implementation": "one-off: AttendanceBadge implementation",
    "deploy_factory": "one-off: TicketFactory(collectionImpl, badgeImpl)",
    "new_badge": "TicketFactory.createBadge: EIP-1167 clone + initialize (name, symbol, roles)",
    "new_collection": "TicketFactory.createCollection with 2 tiers and a badge: clone + initialize + "
    "registerIssuer on a badge with no event yet",
    "new_collection_minimal": "TicketFactory.createCollection with 1 tier and no badge: the like-for-like "
    "comparison with Unlock's lock creation",
    "mint_1": "mintBatch(tier 0, [1 fresh address])",
    "mint_distinct_batch_100": "mintBatch(tier 0, 100 fresh random addresses)",
    "mint_distinct_per_ticket": "mint_distinct_batch_100 / 100 (the tx base cost is amortised)",
    "mint_same_holder_batch_100": "mintBatch(tier 0, the same fresh address 100 times)",
    "mint_same_holder_per_extra_ticket": "(mint_same_holder_batch_100 - mint_1) / 99",
    "buy_primary": "buy(tier 0, 1) at face value (exact payment) by a fresh buyer; the tier has a "
    "per-wallet cap, so the buyer's purchase counter is written from zero",
    "list": "list(token, price at the cap) by its holder; the listing slot is written from zero",
    "resale_buy": "buyResale by a fresh buyer: transfer, listing deleted, 5% royalty pushed to the "
    "organiser, the rest to the seller",
    "checkin_1": "checkIn([1 ticket]) by the gate, minting the holder's badge",
    "checkin_batch_100": "checkIn(100 tickets of 100 distinct holders), minting 100 badges",
    "checkin_with_badge_per_ticket": "checkin_batch_100 / 100",
    "refund_claim_1": "claimRefund([1 paid ticket]) by its holder after cancelEvent",
    "refund_batch_100": "refundBatch(100 paid tickets of 100 distinct holders) after cancelEvent, "
    "pushing each refund",
    "refund_per_ticket": "refund_batch_100 / 100",
}


# ---------------------------------------------------------------- helpers


def _no_zero_byte(raw: bytes) -> bool:
    return 0 not in raw


def fresh_addresses(count: int) -> list[str]:
    """`count` random addresses, never seen before, without zero bytes (constant calldata cost)."""
    out: list[str] = []
    while len(out) < count:
        raw = secrets.token_bytes(20)
        if _no_zero_byte(raw):
            out.append(to_checksum_address(raw))
    return out


def _create_address(sender: str, nonce: int) -> bytes:
    return keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:]


def _deployer() -> LocalAccount:
    """A fresh key whose first two contracts' addresses have no zero byte (they are the factory's
    constructor arguments, so they are calldata)."""
    while True:
        account = Account.create()
        if all(_no_zero_byte(_create_address(account.address, n)) for n in (0, 1)):
            return account


def _fund(chain: Chain, funder: LocalAccount, addresses: Sequence[str], amount: int = FUNDING) -> None:
    """Plain transfers (21,000 gas each), sent together and then awaited."""
    hashes = [
        chain.send_raw({"to": to_checksum_address(a), "value": amount, "gas": 21_000}, funder, wait=False)
        for a in addresses
    ]
    for tx_hash in hashes:
        chain.wait(tx_hash)


def _fresh_senders(chain: Chain, funder: LocalAccount, count: int) -> list[LocalAccount]:
    accounts = [Account.create() for _ in range(count)]
    _fund(chain, funder, [a.address for a in accounts])
    return accounts


def _gas(receipt: Any) -> int:
    return int(receipt["gasUsed"])


def _deploy(chain: Chain, name: str, sender: LocalAccount, *args: Any) -> tuple[str, int]:
    artifact = _artifacts.load(name)
    factory = chain.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = chain.send(factory.constructor(*args), sender)
    return receipt["contractAddress"], _gas(receipt)


# ---------------------------------------------------------------- the scenario


def measure(chain: Chain) -> dict[str, int]:
    """Run every measured operation on `chain` (its account 0 funds everything); returns gas by name."""
    gas: dict[str, int] = {}
    bank = chain.account(0)

    # -- one-off deployments, from a fresh deployer whose contract addresses have no zero byte
    deployer = _deployer()
    _fund(chain, bank, [deployer.address], 10 * ETH)
    collection_impl, gas["deploy_collection_implementation"] = _deploy(chain, "TicketCollection", deployer)
    badge_impl, gas["deploy_badge_implementation"] = _deploy(chain, "AttendanceBadge", deployer)
    factory, gas["deploy_factory"] = _deploy(chain, "TicketFactory", deployer, collection_impl, badge_impl)
    platform = Platform(chain, factory)
    fn = platform.contract.functions

    organiser = chain.account(0)

    # -- a new badge: a salt without zero bytes whose badge address has none either (it is calldata
    #    of createCollection below)
    for i in range(10_000):
        badge_salt = salt_bytes(f"ticketkit-bench-badge-{i}")
        badge_address = chain.call(fn.predictBadge(organiser.address, badge_salt))
        if _no_zero_byte(badge_salt) and _no_zero_byte(bytes.fromhex(badge_address[2:])):
            break
    gas["new_badge"] = _gas(chain.send(fn.createBadge("Bench badges", "BBDG", "", badge_salt), organiser))
    badge = Badge(chain, badge_address)

    # -- a new collection with two tiers, registered with the badge
    i = 0
    while not _no_zero_byte(collection_salt := salt_bytes(f"ticketkit-bench-event-{i}")):
        i += 1
    i += 1
    event = EventConfig(
        name="Bench Night",
        symbol="BENCH",
        start_time=START_TIME,
        transfer_lock_time=TRANSFER_LOCK,
        resale_cap_bps=RESALE_CAP_BPS,
        royalty_bps=500,
    )
    tiers = [
        TierConfig(
            "General",
            face_value=FACE_VALUE,
            supply=1_000,
            sale_start=SALE_START,
            sale_end=SALE_END,
            max_per_wallet=4,
        ),
        TierConfig("VIP", face_value=ETH // 2, supply=50, sale_start=SALE_START, sale_end=SALE_END),
    ]
    collection_address = chain.call(fn.predictCollection(organiser.address, collection_salt))
    gas["new_collection"] = _gas(
        chain.send(
            fn.createCollection(
                event.as_tuple(badge.address), [t.as_tuple() for t in tiers], collection_salt
            ),
            organiser,
        )
    )
    collection = Collection(chain, collection_address)
    # the like-for-like comparison with an Unlock lock: one tier, no badge
    while not _no_zero_byte(minimal_salt := salt_bytes(f"ticketkit-bench-event-{i}")):
        i += 1
    gas["new_collection_minimal"] = _gas(
        chain.send(fn.createCollection(event.as_tuple(ZERO), [tiers[0].as_tuple()], minimal_salt), organiser)
    )
    assert badge.event_id_of(collection.address) == 1, "the collection was not registered with its badge"
    cf = collection.contract.functions

    def mint(recipients: Sequence[str]) -> tuple[int, list[int]]:
        receipt = chain.send(cf.mintBatch(0, list(recipients)), organiser)
        first = collection.events(receipt, "TicketsMinted")[0]["args"]["firstTokenId"]
        return _gas(receipt), list(range(first, first + len(recipients)))

    # -- warm-up: the first ticket of the event moves _totalMinted from zero (not measured)
    mint([organiser.address])

    # -- mints
    gas["mint_1"], [single_token] = mint(fresh_addresses(1))
    gas["mint_same_holder_batch_100"], _ = mint(fresh_addresses(1) * BATCH)
    gas["mint_distinct_batch_100"], distinct_tokens = mint(fresh_addresses(BATCH))

    # -- check-in with badges (the gate is the organiser)
    gas["checkin_batch_100"] = _gas(chain.send(cf.checkIn(distinct_tokens), organiser))
    gas["checkin_1"] = _gas(chain.send(cf.checkIn([single_token]), organiser))

    # -- fresh senders, funded by plain transfers from account 0
    warm_buyer, buyer, resale_buyer, refund_claimer, *refund_holders = _fresh_senders(chain, bank, 4 + BATCH)

    def buy(sender: LocalAccount) -> tuple[int, int]:
        receipt = chain.send(cf.buy(0, 1), sender, value=FACE_VALUE)
        return _gas(receipt), collection.events(receipt, "TicketsPurchased")[0]["args"]["firstTokenId"]

    # -- primary sale (warm-up: the first purchase moves the refund reserve from zero)
    buy(warm_buyer)
    gas["buy_primary"], bought = buy(buyer)

    # -- resale
    gas["list"] = _gas(chain.send(cf.list(bought, RESALE_PRICE), buyer))
    gas["resale_buy"] = _gas(chain.send(cf.buyResale(bought, RESALE_PRICE), resale_buyer, value=RESALE_PRICE))
    assert collection.owner_of(bought) == resale_buyer.address

    # -- refunds: paid tickets held by distinct holders, then the event is cancelled
    _, claim_token = buy(refund_claimer)
    hashes = [
        chain.send(cf.buy(0, 1), holder, value=FACE_VALUE, gas=400_000, wait=False)
        for holder in refund_holders
    ]
    refund_tokens = []
    for tx_hash in hashes:
        receipt = chain.wait(tx_hash)
        refund_tokens.append(collection.events(receipt, "TicketsPurchased")[0]["args"]["firstTokenId"])
    refund_tokens.sort()
    chain.send(cf.cancelEvent(), organiser)
    gas["refund_claim_1"] = _gas(chain.send(cf.claimRefund([claim_token]), refund_claimer))
    gas["refund_batch_100"] = _gas(chain.send(cf.refundBatch(refund_tokens), organiser))
    assert not collection.exists(refund_tokens[-1])

    # -- per-ticket figures
    gas["mint_distinct_per_ticket"] = round(gas["mint_distinct_batch_100"] / BATCH)
    gas["mint_same_holder_per_extra_ticket"] = round(
        (gas["mint_same_holder_batch_100"] - gas["mint_1"]) / (BATCH - 1)
    )
    gas["checkin_with_badge_per_ticket"] = round(gas["checkin_batch_100"] / BATCH)
    gas["refund_per_ticket"] = round(gas["refund_batch_100"] / BATCH)
    return {key: gas[key] for _, total, per in ROWS for key in (total, per) if key}


# ---------------------------------------------------------------- output


def report(gas: dict[str, int]) -> str:
    """A readable table: operation, gas, per ticket."""
    width = max(len(label) for label, _, _ in ROWS)
    lines = [f"{'operation':<{width}}  {'gas':>11}  {'per ticket':>10}", "-" * (width + 25)]
    for label, total, per in ROWS:
        per_text = f"{gas[per]:>10,}" if per else ""
        lines.append(f"{label:<{width}}  {gas[total]:>11,}  {per_text}")
    lines.append(f"floor for a ticket to a new holder: {FLOOR_NEW_HOLDER:,} (2 cold SSTOREs from zero)")
    return "\n".join(lines)


def _anvil_version() -> str:
    try:
        out = subprocess.run(
            [anvil_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        return out.stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001  # informative only
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gas_report", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench/results/gas.json"),
        help="where to write the JSON report (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    with local_chain() as chain:
        gas = measure(chain)
    print(report(gas))

    compiler = _artifacts.load("TicketCollection").get("compiler", {})
    if isinstance(compiler, dict):
        settings = compiler.get("settings", {})
        optimizer = settings.get("optimizer", {})
        compiler = (
            f"solc {compiler.get('version', '?')}, evm {settings.get('evmVersion', '?')}, optimizer "
            f"{'on, ' + str(optimizer.get('runs')) + ' runs' if optimizer.get('enabled') else 'off'}"
        )
    notes = {**NOTES, "anvil": _anvil_version(), "compiler": compiler}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(
        json.dumps({"gas": gas, "floor_new_holder": FLOOR_NEW_HOLDER, "notes": notes}, indent=2) + "\n"
    )
    os.replace(tmp, args.out)
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
