"""Airdrops from a CSV of recipients, and refunds of a cancelled event: batched, resumable after a crash.

    rows = read_recipients("recipients.csv", tier_names=[t.name for t in collection.tiers()])
    report = mint_recipients(collection, rows, sender=organiser, chunk_size=200, progress=print)

The CSV says how many airdropped tickets of each tier each recipient should have. A run compares
it with what the collection's logs say was airdropped (`mint_plan.plan_mint`) and mints exactly the
difference: added rows, raised quantities; rows already minted are skipped, whatever their order or
whichever run sent them; tickets on chain beyond the file are reported, never burned. Nothing is
recorded off chain. A run waits for the sender's pending transactions to clear first, so a chunk that
is sent but not yet mined is counted, never sent twice. Each `mintBatch` transaction carries a job
marker after its ABI arguments (the contract ignores trailing calldata): 32 bytes naming the run's
plan and 32 bytes with the chunk's offset in it, so a transaction can be traced to its run.

`refund_all` pushes refunds of every ticket paid on chain that still exists; the contract skips
tickets already refunded, so it is safe to rerun at any point.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak
from web3.types import Wei

from .chain import Chain, translate_error
from .contracts import ZERO, Collection
from .errors import ChainError, ContractRevert, InvalidInput, error_class
from .mint_plan import MintPlan, plan_mint
from .tx import TxStatus

if TYPE_CHECKING:
    from web3.types import TxParams

__all__ = [
    "MintPlan",
    "MintReport",
    "Progress",
    "Recipient",
    "RefundReport",
    "job_id",
    "mint_recipients",
    "read_recipients",
    "refund_all",
]

Progress = Callable[[int, int], None]
"""Called as progress(done, total) when a run starts and after each chunk is sent."""

_MARKER_BYTES = 64
MAX_QUANTITY = 10_000


@dataclass(frozen=True)
class Recipient:
    """One CSV row: `quantity` tickets of tier `tier_id` for `address` (checksummed)."""

    address: str
    tier_id: int
    quantity: int = 1
    line: int = 0


@dataclass
class MintReport:
    total: int  # tickets in the plan
    already_minted: int  # found on chain before this run
    minted_now: int  # minted by this run
    transactions: list[str] = field(default_factory=list)
    plan: MintPlan | None = None  # what the run found and meant to mint

    @property
    def done(self) -> bool:
        return self.already_minted + self.minted_now == self.total


@dataclass
class RefundReport:
    found: int  # paid tickets still existing when the run started
    refunded: int  # refunded by this run
    transactions: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the CSV


def _resolve_tier(value: str, tier_names: Sequence[str] | None, where: str) -> int:
    value = value.strip()
    if tier_names is not None and value in tier_names:
        return list(tier_names).index(value)
    if value.isdigit():
        index = int(value)
        if tier_names is not None and index >= len(tier_names):
            raise InvalidInput(
                f"tier {index} does not exist (the collection has {len(tier_names)} tiers)", where=where
            )
        return index
    if tier_names is None:
        raise InvalidInput(f"tier {value!r} is not a tier index", where=where)
    known = ", ".join(repr(n) for n in tier_names)
    raise InvalidInput(f"no tier named {value!r} (tiers: {known})", where=where)


def parse_recipients(
    lines: Iterable[str], *, tier_names: Sequence[str] | None = None, source: str = "<csv>"
) -> list[Recipient]:
    """Validate CSV text (header: address, tier[, quantity]).

    Every bad line is reported at once: InvalidInput's `where` names the first, its message lists
    them all and `problems` holds (where, message) for each.
    """
    reader = csv.reader(lines)
    header: list[str] | None = None
    rows: list[Recipient] = []
    seen: dict[tuple[str, int], int] = {}
    problems: list[tuple[str, str]] = []
    for cells in reader:
        line = reader.line_num
        where = f"{source}:{line}"
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in ("address", "tier") if c not in header]
            if missing and len(header) == 1 and ";" in header[0]:
                raise InvalidInput(
                    "the file is separated by semicolons (a spreadsheet's export in some "
                    "locales): save it as CSV with commas, e.g. address,tier,quantity",
                    where=where,
                )
            if missing:
                raise InvalidInput(
                    f"the header needs columns address and tier (missing: {', '.join(missing)})", where=where
                )
            if len(set(header)) != len(header):
                raise InvalidInput("a column is named twice in the header", where=where)
            continue
        try:
            row = _parse_row(cells, header, tier_names, where)
        except InvalidInput as error:
            problems.append((where, str(error).removeprefix(f"{where}: ")))
            continue
        key = (row.address, row.tier_id)
        if key in seen:
            problems.append(
                (
                    where,
                    (
                        f"duplicate row: {row.address} already has tier {row.tier_id} on line "
                        f"{seen[key]} (use the quantity column for several tickets)"
                    ),
                )
            )
            continue
        seen[key] = line
        rows.append(Recipient(row.address, row.tier_id, row.quantity, line))
    if header is None:
        raise InvalidInput("the CSV is empty (expected a header: address,tier,quantity)", where=source)
    if problems:
        message = problems[0][1]
        if len(problems) > 1:
            message += f"\n{len(problems)} lines are wrong in all; fix them all and rerun:" + "".join(
                f"\n  {w}: {m}" for w, m in problems
            )
        refusal = InvalidInput(message, where=problems[0][0])
        refusal.problems = problems
        raise refusal
    return rows


def _parse_row(
    cells: list[str], header: list[str], tier_names: Sequence[str] | None, where: str
) -> Recipient:
    if len(cells) > len(header):
        hint = " (a comma inside a number? write quantities without separators)" if len(header) >= 3 else ""
        raise InvalidInput(f"{len(cells)} cells, but the header has {len(header)} columns{hint}", where=where)
    row = dict(zip(header, (c.strip() for c in cells)))
    address = row.get("address", "")
    if not address:
        raise InvalidInput("no address", where=where)
    if not is_address(address):
        raise InvalidInput(f"{address!r} is not a valid address", where=where)
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(address):
        raise InvalidInput(f"{address!r} has a wrong checksum (a typo?)", where=where)
    address = to_checksum_address(address)
    if address == ZERO:
        raise InvalidInput("the zero address cannot hold tickets", where=where)
    if not row.get("tier"):
        raise InvalidInput("no tier", where=where)
    tier_id = _resolve_tier(row["tier"], tier_names, where)
    quantity_text = row.get("quantity") or "1"
    if not quantity_text.isdigit() or not 1 <= int(quantity_text) <= MAX_QUANTITY:
        raise InvalidInput(
            f"quantity {quantity_text!r} is not a whole number from 1 to {MAX_QUANTITY}", where=where
        )
    return Recipient(address, tier_id, int(quantity_text), 0)


def read_recipients(path: str | Path, *, tier_names: Sequence[str] | None = None) -> list[Recipient]:
    """Read a recipients CSV. Tiers are given by name (with `tier_names`) or by index."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return parse_recipients(handle, tier_names=tier_names, source=str(path))
    except OSError as error:
        raise InvalidInput(f"cannot read the CSV: {error.strerror or error}", where=str(path)) from None
    except UnicodeDecodeError:
        raise InvalidInput("the CSV is not UTF-8 text", where=str(path)) from None


# ---------------------------------------------------------------- the job marker (the plan: mint_plan.py)


def _address_bytes(address: str) -> bytes:
    """The 20 bytes of an address (no checksum computed: the plan's addresses were checked when read)."""
    if isinstance(address, str) and len(address) == 42 and address[:2] in ("0x", "0X"):
        return bytes.fromhex(address[2:])  # ValueError if not hex
    return bytes.fromhex(to_checksum_address(address)[2:])


def job_id(collection: Collection, tier_id: int, planned: Sequence[str]) -> bytes:
    """The marker of one run's airdrop of a tier (`planned`: its recipients, one per ticket)."""
    return _job_id(collection, tier_id, [_address_bytes(a) for a in planned])


def _job_id(collection: Collection, tier_id: int, planned: Sequence[bytes]) -> bytes:
    # addresses as bytes ABI-encode exactly as their checksummed text does, without a keccak per address
    encoded = abi_encode(
        ["uint256", "address", "uint256", "address[]"],
        [collection.chain.chain_id, collection.address, tier_id, list(planned)],
    )
    return keccak(b"ticketkit.mint.v1" + encoded)


def _marker(job: bytes, offset: int) -> bytes:
    return job + offset.to_bytes(32, "big")


_MINT_SELECTOR = keccak(text="mintBatch(uint256,address[])")[:4]
# Transactions of one run that may be pending at once. Nodes keep a limited number of pending
# transactions per sender (geth guarantees 16 slots), and a failed chunk stops the run within a window.
MAX_IN_FLIGHT = 16


def _mint_calldata(tier_id: int, recipients: Sequence[bytes], marker: bytes) -> bytes:
    """mintBatch(tier_id, recipients) followed by the job marker: the same bytes web3 would encode."""
    return _MINT_SELECTOR + abi_encode(["uint256", "address[]"], [tier_id, list(recipients)]) + marker


def _mint_gas_limit(collection: Collection, tier_id: int, size: int, sender: LocalAccount) -> int:
    """A gas limit for any chunk of at most `size` tickets of `tier_id`, from one estimate.

    The estimate is of the dearest chunk of that size: `size` distinct holders new to the collection
    (each writes its balance slot from zero), addresses and marker without zero bytes (the dearest
    calldata), on today's state (the counters only get cheaper to write as tickets are minted). A real
    chunk can only cost less, so one estimate per tier and run replaces one per chunk. It is also the
    pre-flight check: a revert that does not depend on the recipients (no minter role, cancelled,
    no such tier, not enough supply) raises here, before anything is sent.
    """
    dearest: list[bytes] = []
    while len(dearest) < size:
        raw = os.urandom(20)
        if 0 not in raw:
            dearest.append(raw)
    tx: TxParams = {
        "from": sender.address,
        "to": collection.address,
        "value": Wei(0),
        "data": _mint_calldata(tier_id, dearest, b"\xff" * _MARKER_BYTES),
    }
    try:
        estimate = collection.chain.w3.eth.estimate_gas(tx)
    except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
        raise translate_error(error) from None
    return int(estimate * 1.2) + 10_000


def _confirm(chain: Chain, tx_hash: bytes, tx: dict[str, Any], timeout: float = 120) -> None:
    """Wait until the chunk sent as `tx_hash` is final (the pipeline replaces it if it is stuck or dropped,
    and sends it again if a reorganisation removes it) and check its status, without decoding the receipt's
    logs (a chunk's receipt holds one log per ticket). A failed transaction raises as Chain.wait does, with
    the reason decoded by replaying `tx`."""
    found = chain._record_of(tx_hash)
    if found is None:
        chain.wait(tx_hash, tx, timeout)
        return
    pipeline, rec = found
    pipeline.wait(rec, timeout=timeout, poll=chain.poll_seconds)
    if rec.status != TxStatus.final:
        chain.wait(tx_hash, tx, timeout)  # raises with the decoded reason
        raise ChainError(f"transaction {rec.tx_hash} failed")


def _wait_all(collection: Collection, hashes: Sequence[bytes]) -> list[Any]:
    receipts, failure = [], None
    for tx_hash in hashes:
        try:
            receipts.append(collection.chain.wait(tx_hash))
        except (ChainError, ContractRevert) as error:
            failure = failure or error
    if failure is not None:
        raise failure
    return receipts


def mint_recipients(
    collection: Collection,
    rows: Sequence[Recipient],
    sender: LocalAccount | None,
    *,
    chunk_size: int = 200,
    progress: Progress | None = None,
    from_block: int = 0,
    pending_timeout: float = 120,
    on_plan: Callable[[MintPlan], None] | None = None,
    dry_run: bool = False,
) -> MintReport:
    """Mint what `rows` ask for and the collection's airdrops do not hold yet (`mint_plan`). Safe to rerun.

    `on_plan` sees the plan before anything is sent; with `dry_run` the run stops there (`sender` may
    then be None: no pending transactions are awaited). Chunks are sent one after another with
    consecutive nonces, up to MAX_IN_FLIGHT of them unconfirmed at once; then the rest are awaited.
    One gas estimate per tier covers every chunk (see `_mint_gas_limit`). At about 48k gas a ticket,
    200 per transaction (9.5M gas) stays well under a 30M block gas limit. If a chunk fails, no further
    chunk is sent and the failure is raised once the chunks already sent are settled; a rerun mints
    what is still missing.
    """
    if chunk_size < 1:
        raise InvalidInput("chunk_size must be at least 1", where="chunk_size")
    if sender is None and not dry_run:
        raise InvalidInput("a mint needs the organiser's key", where="sender")
    if sender is not None:
        collection.chain.wait_for_pending(sender.address, pending_timeout)
    if collection.event_info()["cancelled"]:
        raise error_class("EventIsCancelled")()
    plan = plan_mint(collection, rows, from_block=from_block)
    if on_plan:
        on_plan(plan)
    for tier_id, wanted in sorted(plan.to_mint.items()):
        tier = collection.tier(tier_id)
        if len(wanted) > tier.remaining:
            raise error_class("SoldOut")(tierId=tier_id, requested=len(wanted), remaining=tier.remaining)
    total, already = plan.total, plan.already_minted
    report = MintReport(total=total, already_minted=already, minted_now=0, plan=plan)
    if dry_run:
        return report
    assert sender is not None
    raw_plan = {tier_id: [_address_bytes(a) for a in wanted] for tier_id, wanted in plan.to_mint.items()}
    jobs = {tier_id: _job_id(collection, tier_id, raw) for tier_id, raw in raw_plan.items()}
    todo: list[tuple[int, int, int]] = []  # (tier, start, end) in raw_plan[tier]
    for tier_id, raw in sorted(raw_plan.items()):
        for chunk_start in range(0, len(raw), chunk_size):
            todo.append((tier_id, chunk_start, min(chunk_start + chunk_size, len(raw))))
    if progress:
        progress(already, total)
    chain = collection.chain
    gas_limits: dict[int, int] = {}
    for tier_id, start, end in todo:
        gas_limits[tier_id] = max(gas_limits.get(tier_id, 0), end - start)
    gas_limits = {
        tier_id: _mint_gas_limit(collection, tier_id, size, sender) for tier_id, size in gas_limits.items()
    }
    hashes: list[bytes] = []
    in_flight: list[tuple[bytes, dict[str, Any], int]] = []  # (hash, tx, tickets)
    failure: Exception | None = None
    sent = already

    def settle_oldest() -> None:
        nonlocal failure
        tx_hash, tx, count = in_flight.pop(0)
        try:
            _confirm(chain, tx_hash, tx)
            report.minted_now += count
        except (ChainError, ContractRevert) as error:
            failure = failure or error

    try:
        for tier_id, start, end in todo:
            if failure is not None:
                break
            data = _mint_calldata(tier_id, raw_plan[tier_id][start:end], _marker(jobs[tier_id], start))
            tx = {
                "from": sender.address,
                "to": collection.address,
                "value": 0,
                "data": data,
                "gas": gas_limits[tier_id],
            }
            tx_hash = chain.send_raw(tx, sender, wait=False)
            hashes.append(tx_hash)
            in_flight.append((tx_hash, tx, end - start))
            sent += end - start
            if progress:
                progress(sent, total)
            if len(in_flight) >= MAX_IN_FLIGHT:
                settle_oldest()
    finally:
        report.transactions = ["0x" + bytes(h).hex() for h in hashes]
    while in_flight:
        settle_oldest()
    if failure is not None:
        raise failure
    return report


# ---------------------------------------------------------------- refunds


def refundable_tickets(collection: Collection, *, workers: int = 8) -> list[int]:
    """Ids of tickets paid on chain that still exist (not refunded yet), read ticket by ticket."""
    not_found = error_class("TicketDoesNotExist")

    def paid(token_id: int) -> bool:
        try:
            return collection.ticket(token_id).paid_on_chain
        except not_found:
            return False  # burned: refunded already

    ids = range(1, collection.total_minted() + 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [token_id for token_id, is_paid in zip(ids, pool.map(paid, ids)) if is_paid]


def refund_all(
    collection: Collection,
    sender: LocalAccount,
    *,
    chunk_size: int = 200,
    progress: Progress | None = None,
    pending_timeout: float = 120,
) -> RefundReport:
    """After cancelEvent: push the face value of every ticket paid on chain to its holder. Safe to rerun."""
    if chunk_size < 1:
        raise InvalidInput("chunk_size must be at least 1", where="chunk_size")
    if not collection.event_info()["cancelled"]:
        raise error_class("EventNotCancelled")()
    collection.chain.wait_for_pending(sender.address, pending_timeout)
    ids = refundable_tickets(collection)
    report = RefundReport(found=len(ids), refunded=0)
    if progress:
        progress(0, len(ids))
    hashes: list[bytes] = []
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        hashes.append(collection.refund_batch(chunk, sender=sender, wait=False))
        if progress:
            progress(start + len(chunk), len(ids))
    receipts = _wait_all(collection, hashes)
    report.refunded = sum(len(collection.events(r, "Refunded")) for r in receipts)
    report.transactions = ["0x" + bytes(h).hex() for h in hashes]
    return report
