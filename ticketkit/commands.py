"""What the organiser's commands do, once. Two front ends call these: the CLI (ticketkit/cli.py, typer) and
the plain scripts (scripts/, argparse and the environment, also under `ape run`); each keeps only its options,
its prompts and what it prints.

Errors are ticketkit's (`InvalidInput` with `where` naming the option, the contracts' errors); the front ends
print them as one line, `error [code]: message`, with exit code 2.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from . import errors, tx
from .batch import MintPlan, MintReport, RefundReport, mint_recipients, read_recipients, refund_all
from .chain import Chain
from .chain import connect as connect_node
from .contracts import Collection
from .deployments import collection_address
from .event_file import Deployment, deploy_event_file, load_event_file, parse_datetime, settings_warnings
from .presale import Snapshot, take_snapshot

__all__ = [
    "collection",
    "connect",
    "deploy",
    "event_ids",
    "mint",
    "presale_end",
    "presale_snapshot",
    "refund",
    "require_cancelled",
    "tier_id",
]

Progress = Callable[[int, int], None]


def connect(rpc: str, chain_id: int | None = None, *, journal: bool = True) -> Chain:
    """The chain, its sends through the pipeline (ticketkit.tx) with the operator's settings from the
    environment: TICKETKIT_MAX_FEE_GWEI (the fee ceiling), TICKETKIT_TIP_FLOOR_GWEI, TICKETKIT_CONFIRMATIONS;
    with `journal`, a journal of every transaction (TICKETKIT_JOURNAL, default
    .ticketkit/journal-<chain id>.jsonl): a rerun first finishes what an interrupted run left in flight."""
    chain = connect_node(rpc, chain_id=chain_id)
    env = os.environ
    try:
        max_fee = float(env["TICKETKIT_MAX_FEE_GWEI"]) if env.get("TICKETKIT_MAX_FEE_GWEI") else None
        floor = float(env["TICKETKIT_TIP_FLOOR_GWEI"]) if env.get("TICKETKIT_TIP_FLOOR_GWEI") else None
        confirmations = int(env["TICKETKIT_CONFIRMATIONS"]) if env.get("TICKETKIT_CONFIRMATIONS") else None
    except ValueError as error:
        raise errors.InvalidInput(
            f"not a number: {error}", where="TICKETKIT_MAX_FEE_GWEI/TIP_FLOOR_GWEI/CONFIRMATIONS"
        ) from None
    chain.fee_policy = tx.FeePolicy.for_chain(chain.chain_id, max_fee_gwei=max_fee, tip_floor_gwei=floor)
    if confirmations is not None:
        chain.confirmations = confirmations
    if journal:
        chain.store = tx.Journal(
            env.get("TICKETKIT_JOURNAL") or Path(".ticketkit") / f"journal-{chain.chain_id}.jsonl"
        )
    if not logging.getLogger("ticketkit.tx").handlers:  # say why a transaction waits or is replaced
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("ticketkit: %(message)s"))
        logging.getLogger("ticketkit.tx").addHandler(handler)
        logging.getLogger("ticketkit.tx").setLevel(logging.WARNING)
    return chain


def collection(chain: Chain, value: str | None, *, where: str = "COLLECTION") -> Collection:
    """The event's collection: its address, or the event file deployed on this chain (its deployment record).
    `where` names the argument in errors."""
    if not value:
        raise errors.InvalidInput(
            "give the collection's address or its deployed event file (or set TICKETKIT_COLLECTION)",
            where=where,
        )
    return Collection(chain, collection_address(chain, value, where=where)).require_collection()


def tier_id(target: Collection, value: str) -> int:
    """A tier by its name or its index."""
    names = [t.name for t in target.tiers()]
    if value in names:
        return names.index(value)
    if value.isdigit() and int(value) < len(names):
        return int(value)
    raise errors.InvalidInput(
        f"no tier {value!r} (tiers: {', '.join(repr(n) for n in names)})", where="--tier"
    )


def event_ids(text: str) -> list[int]:
    """Badge event ids written like `1,2`."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise errors.InvalidInput(f"{text!r} is not a list of event ids like 1,2", where="--events") from None


def presale_end(ends: str | None, close: bool) -> int:
    """The presale's end (unix time) from `--ends`, or 0 with `--close`: exactly one of them."""
    if close == (ends is not None):
        raise errors.InvalidInput("give either --ends or --close", where="presale")
    return 0 if close else int(parse_datetime(ends or "").timestamp())


def presale_snapshot(
    chain: Chain,
    target: Collection,
    ids: list[int],
    min_events: int,
    block: int | None = None,
    *,
    from_block: int | None = None,
) -> Snapshot:
    """The holders of `min_events` of the badge events `ids` at `block` (default: the head), as a snapshot."""
    badge = target.badge()
    if badge is None:
        raise errors.InvalidInput(f"{target.address} has no attendance badge", where="COLLECTION")
    return take_snapshot(chain, badge.address, ids, min_events, block, from_block=from_block)


def deploy(
    chain: Chain,
    path: str | Path,
    signer: LocalAccount,
    *,
    factory: str | None = None,
    badge: bool = True,
    record: str | Path | None = None,
    gateway_url: str | None = None,
    warn: Callable[[str], None] = lambda _: None,
) -> Deployment:
    """Deploy the event file's collection (and the platform and badge it needs); safe to rerun. The file's
    questionable settings go to `warn` first."""
    spec = load_event_file(path)
    for warning in settings_warnings(spec, now=chain.timestamp()):
        warn(warning)
    if factory:
        if not is_address(factory):
            raise errors.InvalidInput(f"{factory!r} is not an address", where="--factory")
        factory = to_checksum_address(factory)
    return deploy_event_file(
        chain, path, signer, factory=factory, badge=badge, record=record, gateway_url=gateway_url
    )


def mint(
    target: Collection,
    csv_file: str | Path,
    signer: LocalAccount | None,
    *,
    chunk_size: int = 200,
    from_block: int = 0,
    on_plan: Callable[[MintPlan], None] | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
) -> MintReport:
    """Airdrop so each recipient of the CSV (address, tier name or index, quantity) holds what it says: mints
    only the difference, after showing the plan to `on_plan`; `dry_run` stops there."""
    rows = read_recipients(csv_file, tier_names=[t.name for t in target.tiers()])
    return mint_recipients(
        target,
        rows,
        None if dry_run else signer,
        chunk_size=chunk_size,
        from_block=from_block,
        on_plan=on_plan,
        progress=progress,
        dry_run=dry_run,
    )


def refund(
    target: Collection,
    signer: LocalAccount,
    *,
    chunk_size: int = 200,
    progress: Progress | None = None,
    cancel: bool = False,
) -> tuple[bool, RefundReport]:
    """Refund every ticket paid on chain of the cancelled event (with `cancel`, cancel it first if it is not);
    safe to rerun. Whether it was cancelled now, and the report."""
    cancelled_now = False
    if cancel and not target.event_info()["cancelled"]:
        target.cancel_event(sender=signer)
        cancelled_now = True
    require_cancelled(target)
    return cancelled_now, refund_all(target, signer, chunk_size=chunk_size, progress=progress)


def require_cancelled(target: Collection) -> None:
    """Refunds are for a cancelled event: EventNotCancelled otherwise."""
    if not target.event_info()["cancelled"]:
        raise errors.error_class("EventNotCancelled")()
