"""`ticketkit`: the organiser's command line.

    ticketkit chain                                   # a local anvil, its URL and dev accounts
    ticketkit deploy examples/event.toml --rpc URL    # platform (unless --factory), badge, collection
    ticketkit mint COLLECTION recipients.csv          # resumable airdrop
    ticketkit presale COLLECTION --tier VIP --min-events 1 --events 1,2 --ends 2027-03-03T10:00Z
    ticketkit presale-snapshot COLLECTION --tier VIP --min-events 1 --events 1,2 --block N --publish \
        --ends ...
    ticketkit checkin COLLECTION 1 2 3
    ticketkit cancel COLLECTION && ticketkit refund COLLECTION
    ticketkit status COLLECTION

The key comes from --keystore (password from TICKETKIT_KEYSTORE_PASSWORD or a prompt) or from the
environment variable named by --key-env (default TICKETKIT_PRIVATE_KEY). Errors print as one line,
`error [code]: message`, with exit code 2.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from eth_utils.address import is_address, to_checksum_address
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import commands, errors
from .batch import MintPlan
from .chain import Chain, local_chain
from .contracts import SKIP_ALREADY_USED, SKIP_NOT_FOUND, Collection
from .event_file import load_event_file, parse_datetime
from .keys import DEFAULT_KEY_ENV, Signer, load_signer

__all__ = ["app", "main"]

ETH = 10**18

app = typer.Typer(
    name="ticketkit",
    help="Blockchain-backed event tickets: deploy, mint, sell, check in, refund.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

# ---------------------------------------------------------------- shared options

Rpc = Annotated[
    str,
    typer.Option(
        "--rpc",
        envvar="TICKETKIT_RPC",
        help="JSON-RPC URL of the node; several of one chain comma-separated (the "
        "first is the primary, the next take over while it fails).",
    ),
]
ChainId = Annotated[
    int | None,
    typer.Option(
        "--chain-id", envvar="TICKETKIT_CHAIN_ID", help="Refuse to run unless the node serves this chain id."
    ),
]
KeyEnv = Annotated[
    str, typer.Option("--key-env", help="Environment variable holding the organiser's hex key.")
]
Keystore = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        envvar="TICKETKIT_KEYSTORE",
        help="Encrypted keystore JSON of the organiser's key "
        "(password: TICKETKIT_KEYSTORE_PASSWORD or a prompt).",
    ),
]
CollectionArg = Annotated[
    str,
    typer.Argument(
        metavar="COLLECTION",
        help="The event's collection: its address, or the event file "
        "deployed on this chain (found in its deployment record).",
    ),
]
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
        except errors.ContractRevert as error:
            raise _fail(error.code, error.explain(kwargs.get("collection"))) from None
        except errors.TicketkitError as error:
            raise _fail(error.code, str(error)) from None
        except KeyboardInterrupt:
            raise _fail(
                "interrupted", "stopped; what was sent stays sent: rerun the same command to resume", 130
            ) from None

    return cast(F, wrapper)  # functools.wraps keeps the signature; mypy cannot see that


def _connect(rpc: str, chain_id: int | None) -> Chain:
    """The chain with the operator's settings and the transaction journal (ticketkit.commands.connect)."""
    return commands.connect(rpc, chain_id)


def _signer(key_env: str, keystore: Path | None) -> Signer:
    password = None
    if keystore is not None and "TICKETKIT_KEYSTORE_PASSWORD" not in os.environ:
        password = typer.prompt(f"password of {keystore}", hide_input=True)
    return load_signer(keystore=keystore, password=password, env=key_env)


def _address(value: str, what: str) -> str:
    if not is_address(value):
        raise errors.InvalidInput(f"{value!r} is not an address", where=what)
    return to_checksum_address(value)


def _collection(chain: Chain, value: str) -> Collection:
    return commands.collection(chain, value)


def _eth(wei: int) -> str:
    text = f"{wei / ETH:.6f}".rstrip("0").rstrip(".")
    return f"{text} ETH"


def _progress(label: str) -> tuple[Progress, Callable[[int, int], None]]:
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=False,
    )
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
        out.print(f"local anvil at {local.url}  (chain id {local.chain_id})")
        out.print("dev accounts (public test keys from anvil's mnemonic: never use them on a real chain):")
        for i, account in enumerate(local.accounts):
            out.print(f"  ({i}) {account.address}  key 0x{account.key.hex()}", markup=False)
        out.print(
            f"try: export TICKETKIT_RPC={local.url} TICKETKIT_PRIVATE_KEY=0x{local.accounts[0].key.hex()}",
            markup=False,
        )
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
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
    factory: Annotated[
        str | None,
        typer.Option(
            envvar="TICKETKIT_FACTORY",
            help="An existing platform factory (else the one recorded for this chain, else a new one).",
        ),
    ] = None,
    badge: Annotated[bool, typer.Option(help="Give attendees soulbound attendance badges.")] = True,
    record: Annotated[
        Path | None,
        typer.Option(help="The deployment record (default: EVENT.deployments.json beside the event file)."),
    ] = None,
    gateway_url: Annotated[
        str | None,
        typer.Option(
            envvar="TICKETKIT_GATEWAY_URL",
            help="The gateway's public URL (GATEWAY_PUBLIC_URL): token URIs point at its metadata, "
            "replacing the file's base_uri.",
        ),
    ] = None,
) -> None:
    """Deploy an event's collection. Safe to rerun: the same file on the same chain finds its deployment."""
    spec = load_event_file(event_toml)
    node = _connect(rpc, chain_id)
    done = commands.deploy(
        node,
        event_toml,
        _signer(key_env, keystore),
        factory=factory,
        badge=badge,
        record=record,
        gateway_url=gateway_url,
        warn=lambda warning: err.print(f"warning: {warning}", markup=False),
    )
    for note in done.notes:
        err.print(f"note: {note}", markup=False)
    if done.platform_deployed:
        out.print(
            f"platform factory {done.platform.address}  (deployed; recorded in {done.record})", markup=False
        )
    elif done.factory_from_record:
        out.print(f"platform factory {done.platform.address}  (from {done.record})", markup=False)
    if done.badge is not None:
        out.print(f"badge {done.badge.address}  (event id {done.badge.event_id_of(done.collection.address)})")
    if done.collection_existed:
        out.print(
            f"collection {done.collection.address}  (already deployed at {done.collection.address}: "
            f"{spec.event.name}, {len(spec.tiers)} tiers)",
            markup=False,
        )
    else:
        out.print(
            f"collection {done.collection.address}  (deployed: {spec.event.name}, {len(spec.tiers)} tiers)",
            markup=False,
        )


@app.command()
@_handles_errors
def mint(
    collection: CollectionArg,
    csv_file: Annotated[
        Path, typer.Argument(metavar="CSV", help="Columns: address, tier (name or index), quantity.")
    ],
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
    chunk_size: Annotated[int, typer.Option(min=1, max=1000, help="Tickets per transaction.")] = 200,
    from_block: Annotated[
        int, typer.Option(help="Where to look for earlier airdrops (the collection's block).")
    ] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and send nothing.")] = False,
) -> None:
    """Airdrop tickets so each recipient holds what the CSV says: mints only the difference. Safe to rerun.

    Before sending it prints the plan: to mint, already minted, on chain but not in the file (kept).
    """
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    names = [t.name for t in target.tiers()]
    signer = None if dry_run else _signer(key_env, keystore)

    def show(plan: MintPlan) -> None:
        out.print(f"plan for {target.address} (chain {node.chain_id}), {csv_file}:", markup=False)
        for line in plan.describe(names):
            if line.startswith("warning"):
                err.print(line, markup=False)
            else:
                out.print(f"  {line}", markup=False)
        if dry_run:
            out.print("dry run: nothing sent")

    if dry_run:
        commands.mint(target, csv_file, None, from_block=from_block, on_plan=show, dry_run=True)
        return
    bar, update = _progress("minting")
    with bar:  # the plan prints above the bar, before anything is sent
        report = commands.mint(
            target,
            csv_file,
            signer,
            chunk_size=chunk_size,
            progress=update,
            from_block=from_block,
            on_plan=show,
        )
    out.print(
        f"{report.minted_now} tickets minted now, {report.already_minted} were already minted "
        f"({report.total} planned, {len(report.transactions)} transactions)"
    )


@app.command()
@_handles_errors
def presale(
    collection: CollectionArg,
    tier: Annotated[str, typer.Option(help="Tier name or index.")],
    min_events: Annotated[int, typer.Option(min=0, help="Badges needed, of --events.")] = 1,
    events: Annotated[str, typer.Option(help="Badge event ids that count, e.g. 1,2.")] = "",
    ends: Annotated[str | None, typer.Option(help="End of the presale, ISO 8601 with timezone.")] = None,
    close: Annotated[bool, typer.Option("--close", help="End the tier's presale now.")] = False,
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
) -> None:
    """Open (or --close) a tier's presale for holders of attendance badges."""
    if close == (ends is not None):
        raise errors.InvalidInput("give either --ends or --close", where="presale")
    event_ids: list[int] = []
    if not close:
        event_ids = commands.event_ids(events)
        if min_events > len(event_ids):
            raise errors.InvalidInput(
                f"--min-events {min_events} is more than the {len(event_ids)} --events", where="--min-events"
            )
    ends_at = commands.presale_end(ends, close)
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    tier_id = commands.tier_id(target, tier)
    signer = _signer(key_env, keystore)
    if close:
        target.set_presale(tier_id, ends_at=0, sender=signer)
        out.print(f"presale of tier {tier_id} closed")
    else:
        target.set_presale(
            tier_id, ends_at=ends_at, min_events=min_events, event_ids=event_ids, sender=signer
        )
        out.print(f"presale of tier {tier_id} until {ends}: holders of {min_events} of events {event_ids}")


@app.command("presale-snapshot")
@_handles_errors
def presale_snapshot(
    collection: CollectionArg,
    tier: Annotated[str, typer.Option(help="Tier name or index.")],
    min_events: Annotated[int, typer.Option(min=1, help="Badges needed, of --events.")],
    events: Annotated[str, typer.Option(help="Badge event ids that count, e.g. 1,2.")],
    block: Annotated[int | None, typer.Option(min=0, help="Snapshot block (default: the head now).")] = None,
    from_block: Annotated[
        int | None,
        typer.Option(min=0, help="Scan badge logs from here (default: the badge's deployment block)."),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the snapshot (JSON) here.")] = None,
    expect_root: Annotated[
        str | None, typer.Option(help="Refuse unless the recomputed root is this.")
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="Set the tier's presale with this root.")
    ] = False,
    ends: Annotated[str | None, typer.Option(help="With --publish: end of the presale, ISO 8601.")] = None,
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
) -> None:
    """Fix the presale's eligible set at a block as a Merkle root; --publish sets it on the tier.

    Publishing keeps the badge rule (--min-events of --events) beside the root, so buyers get in by
    their badges or by a proof of the snapshot.
    """
    event_ids = commands.event_ids(events)
    if publish and ends is None:
        raise errors.InvalidInput("--publish needs --ends", where="--ends")
    ends_at = int(parse_datetime(ends).timestamp()) if ends is not None else None
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    tier_id = commands.tier_id(target, tier)
    snap = commands.presale_snapshot(node, target, event_ids, min_events, block, from_block=from_block)
    root = "0x" + snap.root.hex()
    if expect_root is not None and expect_root.lower() != root:
        raise errors.InvalidInput(
            f"recomputed root {root} at block {snap.block}, not {expect_root}", where="--expect-root"
        )
    out.print(
        f"snapshot of tier {tier_id} at block {snap.block}: {len(snap.addresses)} eligible "
        f"(holders of {min_events} of events {event_ids})"
    )
    out.print(f"root {root}")
    if out_file is not None:
        import json

        data = {
            "format": "ticketkit-presale-snapshot/1",
            "chain_id": node.chain_id,
            "collection": target.address,
            "tier_id": tier_id,
            **snap.to_dict(),
        }
        out_file.write_text(json.dumps(data, indent=2) + "\n")
        out.print(f"written to {out_file}")
    if publish:
        assert ends_at is not None
        target.set_presale(
            tier_id,
            ends_at=ends_at,
            min_events=min_events,
            event_ids=event_ids,
            merkle_root=snap.root,
            sender=_signer(key_env, keystore),
        )
        out.print(f"published: presale of tier {tier_id} until {ends}, badge rule and root {root}")


@app.command()
@_handles_errors
def checkin(
    collection: CollectionArg,
    ids: Annotated[list[int], typer.Argument(help="Ticket ids to check in.")],
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
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
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
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
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
    chunk_size: Annotated[int, typer.Option(min=1, max=1000, help="Tickets per transaction.")] = 200,
) -> None:
    """Refund every ticket paid on chain of a cancelled event. Safe to rerun."""
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    signer = _signer(key_env, keystore)
    commands.require_cancelled(target)  # before the progress bar shows
    bar, update = _progress("refunding")
    with bar:
        _, report = commands.refund(target, signer, chunk_size=chunk_size, progress=update)
    out.print(
        f"{report.refunded} tickets refunded ({report.found} found, {len(report.transactions)} transactions)"
    )


ROLES = ("MINTER_ROLE", "GATE_ROLE", "GATEWAY_ROLE", "DEFAULT_ADMIN_ROLE")


@app.command()
@_handles_errors
def grant(
    collection: CollectionArg,
    role: Annotated[str, typer.Argument(help=f"One of {', '.join(ROLES)}.")],
    account: Annotated[str, typer.Argument(help="The address that gets the role.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the role away instead.")] = False,
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
) -> None:
    """Give a role on the collection (admin only): MINTER_ROLE airdrops, GATE_ROLE checks in, GATEWAY_ROLE
    moves tickets on holders' signatures."""
    if role.upper() not in ROLES:
        raise errors.InvalidInput(f"no role {role!r}: use one of {', '.join(ROLES)}", where="ROLE")
    role, who = role.upper(), _address(account, "ACCOUNT")
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    signer = _signer(key_env, keystore)
    name = "revokeRole" if revoke else "grantRole"
    target._send(name, target.role(role), who, sender=signer)
    out.print(f"{role} {'revoked from' if revoke else 'granted to'} {who} on {target.address}", markup=False)


@app.command()
@_handles_errors
def pause(
    collection: CollectionArg,
    resume: Annotated[
        bool, typer.Option("--resume", help="Unpause: sales and transfers start again.")
    ] = False,
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
    key_env: KeyEnv = DEFAULT_KEY_ENV,
    keystore: Keystore = None,
) -> None:
    """Stop sales and every transfer (market, gateway, gifts) until --resume. Refunds and check-in go on."""
    node = _connect(rpc, chain_id)
    target = _collection(node, collection)
    signer = _signer(key_env, keystore)
    if resume:
        target.unpause(sender=signer)
        out.print(f"{target.address} resumed: sales and transfers are open again", markup=False)
    else:
        target.pause(sender=signer)
        out.print(
            f"{target.address} paused; resume with: ticketkit pause {target.address} --resume", markup=False
        )


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _percent(bps: int) -> str:
    return f"{bps / 100:g}%"


@app.command()
@_handles_errors
def status(
    collection: CollectionArg,
    rpc: Rpc = DEFAULT_RPC,
    chain_id: ChainId = None,
) -> None:
    """Every setting to confirm after a deploy, then per tier: sold, remaining, listed, checked in; and the
    money."""
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
    now = node.timestamp()
    state = "cancelled" if info["cancelled"] else ("started" if now >= info["start_time"] else "upcoming")
    receiver, royalty_bps = target.royalty_info(0, 10_000)
    badge = info["badge"] if info["badge"] != "0x" + "0" * 40 else None
    settings = [
        (
            "collection",
            f"{target.call('name')} ({target.call('symbol')}) at {target.address}, chain {node.chain_id}",
        ),
        ("state", f"{state}{', PAUSED (no sales, no transfers)' if target.paused() else ''}"),
        ("start", _when(info["start_time"])),
        ("transfer lock", f"{_when(info['transfer_lock_time'])} (nothing moves from then on)"),
        ("resale cap", f"{_percent(info['resale_cap_bps'])} of face value"),
        ("royalty", f"{_percent(royalty_bps)} of each resale to {receiver}"),
        (
            "gifts",
            "allowed (holders may give tickets away)"
            if info["gifts_allowed"]
            else "not allowed (tickets change hands only by resale)",
        ),
        ("badge", badge or "none (no attendance badges)"),
    ]
    tier_lines: list[str] = []
    for t in tiers:
        cap = f"max {t.max_per_wallet} per wallet" if t.max_per_wallet else "no per-wallet cap"
        line = f"sale {_when(t.sale_start)} to {_when(t.sale_end)}; {cap}"
        if t.presale_end > now:
            rules = []
            if t.presale_min_events:
                rules.append(f"badges of at least {t.presale_min_events} of events {list(t.presale_events)}")
            if t.presale_root != bytes(32):
                rules.append(f"the snapshot 0x{t.presale_root.hex()}")
            line += f"; presale until {_when(t.presale_end)} for holders of {' or '.join(rules) or 'nobody'}"
        elif t.presale_end:
            line += f"; presale ended {_when(t.presale_end)}"
        tier_lines.append(f"tier {t.tier_id} {t.name}: {line}")
    width = max(len(label) for label, _ in settings)
    for label, value in settings:
        out.print(f"{label + ':':<{width + 1}} {value}", markup=False)
    for text in tier_lines:
        out.print(text, markup=False)
    table = Table(title=None)
    for column in ("tier", "name", "price", "sold", "remaining", "refunded", "listed", "checked in"):
        table.add_column(column, justify="left" if column in ("name",) else "right", no_wrap=True)
    for t in tiers:
        table.add_row(
            str(t.tier_id),
            t.name,
            _eth(t.face_value),
            str(t.minted),
            str(t.remaining),
            str(t.minted - existing.get(t.tier_id, 0)),
            str(listed[t.tier_id]),
            str(used[t.tier_id]),
        )
    # As wide as the table needs, whatever the terminal (or pipe) width: names are never cut.
    needed = Measurement.get(out, out.options.update_width(10_000), table).maximum
    Console(highlight=False, width=max(out.width, needed)).print(table)
    out.print(
        f"money: proceeds withdrawable {_eth(target.withdrawable_proceeds())}; "
        f"owed {_eth(target.owed())} (refund reserve {_eth(target.refund_reserve())})"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
