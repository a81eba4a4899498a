"""`ticketkit`: the organiser's command line.

    ticketkit chain                                   # a local anvil, its URL and dev accounts
    ticketkit deploy examples/event.toml --rpc URL    # platform (unless --factory), badge, collection
    ticketkit mint COLLECTION recipients.csv          # resumable airdrop
    ticketkit presale COLLECTION --tier VIP --min-events 1 --events 1,2 --ends 2027-03-03T10:00Z
    ticketkit presale-snapshot COLLECTION --tier VIP --min-events 1 --events 1,2 --block N --publish --ends ...
    ticketkit checkin COLLECTION 1 2 3
    ticketkit cancel COLLECTION && ticketkit refund COLLECTION
    ticketkit status COLLECTION

The key comes from --keystore (password from TICKETKIT_KEYSTORE_PASSWORD or a prompt) or from the
environment variable named by --key-env (default TICKETKIT_PRIVATE_KEY). Errors print as one line,
`error [code]: message`, with exit code 2.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from eth_utils import is_address, to_checksum_address
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import errors, tx
from .batch import mint_recipients, read_recipients, refund_all
from .chain import Chain, connect, local_chain
from .contracts import SKIP_ALREADY_USED, SKIP_NOT_FOUND, Collection
from .event_file import deploy_event, load_event_file, parse_datetime
from .keys import DEFAULT_KEY_ENV, Signer, load_signer

__all__ = ["app", "main"]

ETH = 10**18

app = typer.Typer(name="ticketkit", help="Blockchain-backed event tickets: deploy, mint, sell, check in, refund.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

# ---------------------------------------------------------------- shared options

Rpc = Annotated[str, typer.Option("--rpc", envvar="TICKETKIT_RPC",
                                  help="JSON-RPC URL of the node; several of one chain comma-separated (the "
                                       "first is the primary, the next take over while it fails).")]
ChainId = Annotated[int | None, typer.Option("--chain-id", envvar="TICKETKIT_CHAIN_ID",
                                             help="Refuse to run unless the node serves this chain id.")]
KeyEnv = Annotated[str, typer.Option("--key-env", help="Environment variable holding the organiser's hex key.")]
Keystore = Annotated[Path | None, typer.Option("--keystore", envvar="TICKETKIT_KEYSTORE",
                                               help="Encrypted keystore JSON of the organiser's key "
                                                    "(password: TICKETKIT_KEYSTORE_PASSWORD or a prompt).")]
CollectionArg = Annotated[str, typer.Argument(help="Address of the event's ticket collection.")]
DEFAULT_RPC = "http://127.0.0.1:8545"


def _fail(code: str, message: str, exit_code: int = 2) -> typer.Exit:
    err.print(f"error [{code}]: {message}", markup=False)
    return typer.Exit(exit_code)


def _handles_errors(fn: F) -> F:
    """Print ticketkit errors as one line with exit code 2 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.TicketkitError as error:
            raise _fail(error.code, str(error)) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", "stopped; what was sent stays sent: rerun the same command to resume",
                        130) from None

    return wrapper  # type: ignore[return-value]


def _connect(rpc: str, chain_id: int | None) -> Chain:
    """The chain, its sends through the pipeline (ticketkit.tx) with the operator's settings from the environment:
    TICKETKIT_MAX_FEE_GWEI (the fee ceiling), TICKETKIT_TIP_FLOOR_GWEI, TICKETKIT_CONFIRMATIONS, and a journal of
    every transaction (TICKETKIT_JOURNAL, default .ticketkit/journal-<chain id>.jsonl): a rerun first finishes
    what an interrupted run left in flight."""
    chain = connect(rpc, chain_id=chain_id)
    env = os.environ
    try:
        max_fee = float(env["TICKETKIT_MAX_FEE_GWEI"]) if env.get("TICKETKIT_MAX_FEE_GWEI") else None
        floor = float(env["TICKETKIT_TIP_FLOOR_GWEI"]) if env.get("TICKETKIT_TIP_FLOOR_GWEI") else None
        confirmations = int(env["TICKETKIT_CONFIRMATIONS"]) if env.get("TICKETKIT_CONFIRMATIONS") else None
    except ValueError as error:
        raise errors.InvalidInput(f"not a number: {error}", where="TICKETKIT_MAX_FEE_GWEI/TIP_FLOOR_GWEI/"
                                                                 "CONFIRMATIONS") from None
    chain.fee_policy = tx.FeePolicy.for_chain(chain.chain_id, max_fee_gwei=max_fee, tip_floor_gwei=floor)
    if confirmations is not None:
        chain.confirmations = confirmations
    chain.store = tx.Journal(env.get("TICKETKIT_JOURNAL") or Path(".ticketkit") / f"journal-{chain.chain_id}.jsonl")
    if not logging.getLogger("ticketkit.tx").handlers:  # say why a transaction waits or is replaced
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("ticketkit: %(message)s"))
        logging.getLogger("ticketkit.tx").addHandler(handler)
        logging.getLogger("ticketkit.tx").setLevel(logging.WARNING)
    return chain


def _signer(key_env: str, keystore: Path | None) -> Signer:
    password = None
    if keystore is not None and "TICKETKIT_KEYSTORE_PASSWORD" not in os.environ:
        password = typer.prompt(f"password of {keystore}", hide_input=True)
    return load_signer(keystore=keystore, password=password, env=key_env)


def _address(value: str, what: str) -> str:
    if not is_address(value):
        raise errors.InvalidInput(f"{value!r} is not an address", where=what)
    return to_checksum_address(value)


def _collection(chain: Chain, address: str) -> Collection:
    address = _address(address, "COLLECTION")
    if not chain.w3.eth.get_code(address):
        raise errors.InvalidInput(f"no contract at {address} on chain {chain.chain_id}", where="COLLECTION")
    return Collection(chain, address)


def _eth(wei: int) -> str:
    text = f"{wei / ETH:.6f}".rstrip("0").rstrip(".")
    return f"{text} ETH"


def _tier_id(collection: Collection, value: str) -> int:
    names = [t.name for t in collection.tiers()]
    if value in names:
        return names.index(value)
    if value.isdigit() and int(value) < len(names):
        return int(value)
    raise errors.InvalidInput(f"no tier {value!r} (tiers: {', '.join(repr(n) for n in names)})", where="--tier")


def _progress(label: str) -> tuple[Progress, Callable[[int, int], None]]:
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=out, transient=False)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


# ---------------------------------------------------------------- commands


@app.command()
@_handles_errors
def chain(
    port: Annotated[int, typer.Option(help="Port for anvil (0: a free one).")] = 8545,
    chain_id: Annotated[int, typer.Option("--chain-id", help="Chain id of the local chain.")] = 31337,
    seconds: Annotated[float, typer.Option(hidden=True, help="Stop after this many seconds (tests).")] = 0,
) -> None:
    """Start a local anvil; print its URL and funded dev accounts. Ctrl-C stops it."""
    with local_chain(port=port or None, chain_id=chain_id) as local:
        out.print(f"local anvil at {local.url}  (chain id {local.chain_id})")  # type: ignore[attr-defined]
        out.print("dev accounts (public test keys from anvil's mnemonic: never use them on a real chain):")
        for i, account in enumerate(local.accounts):
            out.print(f"  ({i}) {account.address}  key {account.key.to_0x_hex()}", markup=False)
        out.print(f"try: export TICKETKIT_RPC={local.url} TICKETKIT_PRIVATE_KEY={local.accounts[0].key.to_0x_hex()}",
                  markup=False)
        out.print("Ctrl-C to stop")
        deadline = time.monotonic() + seconds if seconds else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1 if deadline else 1)
        except KeyboardInterrupt:
            pass
        out.print("anvil stopped")


@app.command()
@_handles_errors
def deploy(
    event_toml: Annotated[Path, typer.Argument(help="The event description (see examples/event.toml).")],
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None, key_env: KeyEnv = DEFAULT_KEY_ENV, keystore: Keystore = None,
    factory: Annotated[str | None, typer.Option(envvar="TICKETKIT_FACTORY",
                                                help="An existing platform factory (else deploy one).")] = None,
    badge: Annotated[bool, typer.Option(help="Give attendees soulbound attendance badges.")] = True,
) -> None:
    """Deploy an event's collection (idempotent: the event name is the salt)."""
    spec = load_event_file(event_toml)
    node = _connect(rpc, chain_id)
    signer = _signer(key_env, keystore)
    if factory:
        factory = _address(factory, "--factory")
    done = deploy_event(node, spec, signer, factory=factory, badge=badge)
    if done.platform_deployed:
        out.print(f"platform factory {done.platform.address}  (pass --factory {done.platform.address} next time)")
    if done.badge is not None:
        out.print(f"badge {done.badge.address}  (event id {done.badge.event_id_of(done.collection.address)})")
    state = "already deployed" if done.collection_existed else "deployed"
    out.print(f"collection {done.collection.address}  ({state}: {spec.event.name}, {len(spec.tiers)} tiers)")


@app.command()
@_handles_errors
def mint(
    collection: CollectionArg,
    csv_file: Annotated[Path, typer.Argument(metavar="CSV", help="Columns: address, tier (name or index), quantity.")],
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None, key_env: KeyEnv = DEFAULT_KEY_ENV, keystore: Keystore = None,
    chunk_size: Annotated[int, typer.Option(min=1, max=1000, help="Tickets per transaction.")] = 200,
    from_block: Annotated[int, typer.Option(help="Where to look for earlier runs (the collection's block).")] = 0,
) -> None:
    """Airdrop tickets to the recipients of a CSV. Rerun the same command to resume after a crash."""
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    rows = read_recipients(csv_file, tier_names=[t.name for t in target.tiers()])
    signer = _signer(key_env, keystore)
    bar, update = _progress("minting")
    with bar:
        report = mint_recipients(target, rows, signer, chunk_size=chunk_size, progress=update,
                                 from_block=from_block)
    out.print(f"{report.minted_now} tickets minted now, {report.already_minted} were already minted "
              f"({report.total} planned, {len(report.transactions)} transactions)")


@app.command()
@_handles_errors
def presale(
    collection: CollectionArg,
    tier: Annotated[str, typer.Option(help="Tier name or index.")],
    min_events: Annotated[int, typer.Option(min=0, help="Badges needed, of --events.")] = 1,
    events: Annotated[str, typer.Option(help="Badge event ids that count, e.g. 1,2.")] = "",
    ends: Annotated[str | None, typer.Option(help="End of the presale, ISO 8601 with timezone.")] = None,
    close: Annotated[bool, typer.Option("--close", help="End the tier's presale now.")] = False,
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None, key_env: KeyEnv = DEFAULT_KEY_ENV, keystore: Keystore = None,
) -> None:
    """Open (or --close) a tier's presale for holders of attendance badges."""
    if close == (ends is not None):
        raise errors.InvalidInput("give either --ends or --close", where="presale")
    event_ids: list[int] = []
    if not close:
        try:
            event_ids = [int(part) for part in events.split(",") if part.strip()]
        except ValueError:
            raise errors.InvalidInput(f"{events!r} is not a list of event ids like 1,2", where="--events") from None
        if min_events > len(event_ids):
            raise errors.InvalidInput(f"--min-events {min_events} is more than the {len(event_ids)} --events",
                                      where="--min-events")
    ends_at = 0 if close else int(parse_datetime(ends or "").timestamp())
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    tier_id = _tier_id(target, tier)
    signer = _signer(key_env, keystore)
    if close:
        target.set_presale(tier_id, ends_at=0, sender=signer)
        out.print(f"presale of tier {tier_id} closed")
    else:
        target.set_presale(tier_id, ends_at=ends_at, min_events=min_events, event_ids=event_ids, sender=signer)
        out.print(f"presale of tier {tier_id} until {ends}: holders of {min_events} of events {event_ids}")


@app.command("presale-snapshot")
@_handles_errors
def presale_snapshot(
    collection: CollectionArg,
    tier: Annotated[str, typer.Option(help="Tier name or index.")],
    min_events: Annotated[int, typer.Option(min=1, help="Badges needed, of --events.")],
    events: Annotated[str, typer.Option(help="Badge event ids that count, e.g. 1,2.")],
    block: Annotated[int | None, typer.Option(min=0, help="Snapshot block (default: the head now).")] = None,
    from_block: Annotated[int | None, typer.Option(min=0, help="Scan badge logs from here "
                                                   "(default: the badge's deployment block).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the snapshot (JSON) here.")] = None,
    expect_root: Annotated[str | None, typer.Option(help="Refuse unless the recomputed root is this.")] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Set the tier's presale with this root.")] = False,
    ends: Annotated[str | None, typer.Option(help="With --publish: end of the presale, ISO 8601.")] = None,
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None, key_env: KeyEnv = DEFAULT_KEY_ENV, keystore: Keystore = None,
) -> None:
    """Fix the presale's eligible set at a block as a Merkle root; --publish sets it on the tier.

    Publishing keeps the badge rule (--min-events of --events) beside the root, so buyers get in by
    their badges or by a proof of the snapshot.
    """
    from .presale import take_snapshot

    try:
        event_ids = [int(part) for part in events.split(",") if part.strip()]
    except ValueError:
        raise errors.InvalidInput(f"{events!r} is not a list of event ids like 1,2", where="--events") from None
    if publish and ends is None:
        raise errors.InvalidInput("--publish needs --ends", where="--ends")
    ends_at = int(parse_datetime(ends).timestamp()) if ends is not None else None
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    tier_id = _tier_id(target, tier)
    badge = target.badge()
    if badge is None:
        raise errors.InvalidInput(f"{target.address} has no attendance badge", where="COLLECTION")
    snap = take_snapshot(node, badge.address, event_ids, min_events, block, from_block=from_block)
    root = "0x" + snap.root.hex()
    if expect_root is not None and expect_root.lower() != root:
        raise errors.InvalidInput(f"recomputed root {root} at block {snap.block}, not {expect_root}",
                                  where="--expect-root")
    out.print(f"snapshot of tier {tier_id} at block {snap.block}: {len(snap.addresses)} eligible "
              f"(holders of {min_events} of events {event_ids})")
    out.print(f"root {root}")
    if out_file is not None:
        import json

        data = {"format": "ticketkit-presale-snapshot/1", "chain_id": node.chain_id,
                "collection": target.address, "tier_id": tier_id, **snap.to_dict()}
        out_file.write_text(json.dumps(data, indent=2) + "\n")
        out.print(f"written to {out_file}")
    if publish:
        assert ends_at is not None
        target.set_presale(tier_id, ends_at=ends_at, min_events=min_events, event_ids=event_ids,
                           merkle_root=snap.root, sender=_signer(key_env, keystore))
        out.print(f"published: presale of tier {tier_id} until {ends}, badge rule and root {root}")


@app.command()
@_handles_errors
def checkin(
    collection: CollectionArg,
    ids: Annotated[list[int], typer.Argument(help="Ticket ids to check in.")],
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None, key_env: KeyEnv = DEFAULT_KEY_ENV, keystore: Keystore = None,
) -> None:
    """Check tickets in at the gate (already used or missing ones are reported, not fatal)."""
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    admitted, skipped = target.check_in(ids, sender=_signer(key_env, keystore))
    reasons = {SKIP_NOT_FOUND: "no such ticket", SKIP_ALREADY_USED: "already used"}
    out.print(f"admitted: {' '.join(map(str, admitted)) or 'none'}")
    for token_id, reason in sorted(skipped.items()):
        out.print(f"skipped {token_id}: {reasons.get(reason, f'reason {reason}')}")


@app.command()
@_handles_errors
def cancel(
    collection: CollectionArg,
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None, key_env: KeyEnv = DEFAULT_KEY_ENV, keystore: Keystore = None,
) -> None:
    """Cancel the event (before it starts): sales and transfers stop, refunds open."""
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    target.cancel_event(sender=_signer(key_env, keystore))
    out.print(f"event cancelled; refund holders with: ticketkit refund {target.address}")


@app.command()
@_handles_errors
def refund(
    collection: CollectionArg,
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None, key_env: KeyEnv = DEFAULT_KEY_ENV, keystore: Keystore = None,
    chunk_size: Annotated[int, typer.Option(min=1, max=1000, help="Tickets per transaction.")] = 200,
) -> None:
    """Refund every ticket paid on chain of a cancelled event. Safe to rerun."""
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    signer = _signer(key_env, keystore)
    bar, update = _progress("refunding")
    with bar:
        report = refund_all(target, signer, chunk_size=chunk_size, progress=update)
    out.print(f"{report.refunded} tickets refunded ({report.found} found, {len(report.transactions)} transactions)")


@app.command()
@_handles_errors
def status(
    collection: CollectionArg,
    rpc: Rpc = DEFAULT_RPC, chain_id: ChainId = None,
) -> None:
    """Per tier: sold, remaining, listed for resale, checked in; and the money."""
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    tiers = target.tiers()
    info = target.event_info()
    not_found = errors.error_class("TicketDoesNotExist")

    def read(token_id: int) -> Any:
        try:
            return target.ticket(token_id)
        except not_found:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        tickets = [t for t in pool.map(read, range(1, target.total_minted() + 1)) if t is not None]
    listed = {t.tier_id: 0 for t in tiers}
    used = dict(listed)
    existing = dict(listed)
    for ticket in tickets:
        existing[ticket.tier_id] = existing.get(ticket.tier_id, 0) + 1
        listed[ticket.tier_id] = listed.get(ticket.tier_id, 0) + (ticket.listed_by is not None)
        used[ticket.tier_id] = used.get(ticket.tier_id, 0) + ticket.used
    table = Table(title=f"{target.call('name')} ({target.address})")
    for column in ("tier", "name", "price", "sold", "remaining", "refunded", "listed", "checked in"):
        table.add_column(column, justify="left" if column in ("name",) else "right")
    for t in tiers:
        table.add_row(str(t.tier_id), t.name, _eth(t.face_value), str(t.minted), str(t.remaining),
                      str(t.minted - existing.get(t.tier_id, 0)), str(listed[t.tier_id]), str(used[t.tier_id]))
    out.print(table)
    state = "cancelled" if info["cancelled"] else (
        "started" if node.timestamp() >= info["start_time"] else "upcoming")
    out.print(f"event: {state}; proceeds withdrawable {_eth(target.withdrawable_proceeds())}; "
              f"owed {_eth(target.owed())} (refund reserve {_eth(target.refund_reserve())})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
