"""What a CSV airdrop still has to mint: the file's wish, minus what the chain already holds.

    plan = plan_mint(collection, rows)          # rows from batch.read_recipients
    for line in plan.describe(tier_names):      # to mint / already minted / on chain but not in the file
        print(line)

The CSV says how many airdropped tickets of each tier each recipient should have. The chain says
how many they got: every `mintBatch` emits `TicketsMinted(tier, firstTokenId, quantity)` and one
`Transfer(0 -> recipient, id)` per ticket, so the airdropped tickets of (tier, recipient) are the
mint transfers whose token id lies in a `TicketsMinted` range of that tier. Purchases (their ids
come from `TicketsPurchased`) are not airdrops and do not count; later transfers, resales and
refunds do not change who an airdrop went to. That count is authoritative whatever sent the airdrop
(an earlier run, an interrupted run, another tool, another CSV) and needs nothing stored off chain.

So a rerun mints exactly the difference per recipient and tier: a new row is minted, a raised
quantity mints the extra, rows already minted (in any order, in any chunking) are skipped, and what
is on chain beyond the file is reported, never burned. One CSV is the whole airdrop of a collection:
a second file for the same collection is compared with everything airdropped before, so a recipient
in both files gets max(quantities), not the sum (docs/organisers.md, "Airdrops").

Organiser airdrops may exceed a tier's per-wallet cap: the cap limits purchases (`buy`), the organiser
decides airdrops. The plan warns about each recipient it would take above the cap.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from eth_utils.address import to_checksum_address

from .chain import translate_error
from .contracts import Collection

if TYPE_CHECKING:
    from web3.types import FilterParams

__all__ = ["MintPlan", "PlanLine", "Row", "airdropped", "plan_mint"]

_ZERO_TOPIC = "0x" + "00" * 32


class Row(Protocol):
    """A CSV row (batch.Recipient): `quantity` airdropped tickets of `tier_id` for `address`."""

    @property
    def address(self) -> str: ...
    @property
    def tier_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True)
class PlanLine:
    """One (tier, recipient): what the file wants, what is on chain, and what this run mints."""

    tier_id: int
    address: str
    wanted: int  # in the file
    on_chain: int  # airdropped already

    @property
    def to_mint(self) -> int:
        return max(0, self.wanted - self.on_chain)

    @property
    def beyond_file(self) -> int:
        """Airdropped tickets the file no longer asks for (reported, never burned)."""
        return max(0, self.on_chain - self.wanted)


@dataclass
class MintPlan:
    lines: list[PlanLine]  # file rows in file order, then (tier, address) on chain only
    to_mint: dict[int, list[str]]  # per tier, one address per ticket to mint, in file order
    caps: dict[int, int] = field(default_factory=dict)  # per-wallet cap of each tier in the plan (0: none)

    @property
    def total(self) -> int:
        """Tickets the file asks for."""
        return sum(line.wanted for line in self.lines)

    @property
    def already_minted(self) -> int:
        """Tickets of the file found on chain."""
        return sum(min(line.wanted, line.on_chain) for line in self.lines)

    @property
    def minting(self) -> int:
        return sum(len(v) for v in self.to_mint.values())

    @property
    def beyond_file(self) -> list[PlanLine]:
        return [line for line in self.lines if line.beyond_file]

    @property
    def above_cap(self) -> list[PlanLine]:
        """Recipients this run takes above their tier's per-wallet cap (airdrops may; the CLI warns)."""
        return [
            line
            for line in self.lines
            if line.to_mint and self.caps.get(line.tier_id) and line.wanted > self.caps[line.tier_id]
        ]

    def describe(self, tier_names: Sequence[str] = (), *, limit: int = 20) -> list[str]:
        """The plan as lines of text: to mint / already minted / on chain but not in the file / warnings."""

        def tier(tier_id: int) -> str:
            return tier_names[tier_id] if tier_id < len(tier_names) else f"tier {tier_id}"

        def per_tier(counts: Counter[int]) -> str:
            return ", ".join(f"{tier(t)} {n}" for t, n in sorted(counts.items())) or "none"

        minting = Counter({t: len(v) for t, v in self.to_mint.items() if v})
        recipients = sum(1 for line in self.lines if line.to_mint)
        out = [
            f"to mint:        {self.minting} tickets for {recipients} recipients ({per_tier(minting)})",
            f"already minted: {self.already_minted} of the {self.total} tickets in the file",
        ]
        extra = self.beyond_file
        if extra:
            out.append(
                f"on chain but not in the file: {sum(x.beyond_file for x in extra)} tickets of "
                f"{len(extra)} recipients (kept: never burned)"
            )
            out += [
                f"  {tier(x.tier_id)}  {x.address}  {x.beyond_file} more than the file"
                + (f" ({x.on_chain} airdropped, file says {x.wanted})" if x.wanted else " (not in the file)")
                for x in extra[:limit]
            ]
            if len(extra) > limit:
                out.append(f"  ... and {len(extra) - limit} more")
        capped = self.above_cap
        for x in capped[:limit]:
            out.append(
                f"warning: {x.address} gets {x.wanted} tickets of {tier(x.tier_id)}, above its "
                f"per-wallet cap of {self.caps[x.tier_id]} (airdrops may exceed the cap; it limits purchases)"
            )
        if len(capped) > limit:
            out.append(f"warning: ... and {len(capped) - limit} more recipients above a per-wallet cap")
        return out


def airdropped(collection: Collection, *, from_block: int = 0) -> Counter[tuple[int, str]]:
    """Airdropped tickets per (tier, first recipient), from the collection's logs."""
    w3 = collection.chain.w3
    events = collection.contract.events
    base: FilterParams = {"address": collection.address, "fromBlock": from_block, "toBlock": "latest"}
    try:
        minted = w3.eth.get_logs({**base, "topics": [events.TicketsMinted().topic]})
        if not minted:
            return Counter()
        transfers = w3.eth.get_logs(
            {
                **base,
                "fromBlock": min(int(log["blockNumber"]) for log in minted),
                "topics": [events.Transfer().topic, _ZERO_TOPIC],
            }
        )
    except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
        raise translate_error(error) from None
    ranges = []  # (first id, end id, tier), sorted by first id: ids are allocated consecutively
    for log in minted:
        data = bytes(log["data"])
        first, quantity = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")
        ranges.append((first, first + quantity, int.from_bytes(bytes(log["topics"][1]), "big")))
    ranges.sort()
    starts = [r[0] for r in ranges]
    counts: Counter[tuple[int, str]] = Counter()
    for log in transfers:
        topics = log["topics"]
        token_id = int.from_bytes(bytes(topics[3]), "big")
        i = bisect.bisect_right(starts, token_id) - 1
        if i >= 0 and token_id < ranges[i][1]:
            counts[(ranges[i][2], to_checksum_address(bytes(topics[2])[-20:]))] += 1
    return counts


def plan_mint(
    collection: Collection,
    rows: Iterable[Row],
    *,
    from_block: int = 0,
    on_chain: Counter[tuple[int, str]] | None = None,
) -> MintPlan:
    """Compare the rows with the collection's airdrops (read now unless `on_chain` is given)."""
    rows = list(rows)
    found = airdropped(collection, from_block=from_block) if on_chain is None else on_chain
    wanted: dict[tuple[int, str], int] = {}
    for row in rows:  # file order; batch.parse_recipients refuses duplicate (address, tier) rows
        key = (row.tier_id, to_checksum_address(row.address))
        wanted[key] = wanted.get(key, 0) + row.quantity
    lines = [PlanLine(t, a, n, found.get((t, a), 0)) for (t, a), n in wanted.items()]
    lines += [PlanLine(t, a, 0, n) for (t, a), n in sorted(found.items()) if (t, a) not in wanted]
    to_mint: dict[int, list[str]] = {}
    for line in lines:
        if line.to_mint:
            to_mint.setdefault(line.tier_id, []).extend([line.address] * line.to_mint)
    caps = {
        tier_id: collection.tier(tier_id).max_per_wallet  # raises TierDoesNotExist
        for tier_id in sorted({t for t, _ in wanted})
    }
    return MintPlan(lines=lines, to_mint=to_mint, caps=caps)
