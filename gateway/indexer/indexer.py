"""The chain indexer: the chain is the truth, the database follows it.

For every registered event (gateway `events`: its collection and its badge) the indexer fetches logs with
one `eth_getLogs` per block range for all watched addresses, up to `head - confirmations`, decodes them
with the shipped ABIs, appends them to `chain_events` and folds their effects into `indexed_tokens`
(owner, used, burned, listing) and into the gateway's `tickets` (owner fan; tickets minted outside the
gateway get a record). One database transaction per block range, bulk inserts.

Reorgs: the cursor holds the last indexed block's number AND hash, and the last `reorg_window` block
hashes are kept. Each poll checks the cursor's hash against the chain; on a mismatch it walks back to
the newest kept block still on the chain (the common ancestor), deletes every row derived from blocks
above it, recomputes the tokens those rows touched from the remaining events, and indexes again.

Restart: the cursor is in the database; a new `Indexer` continues from it. A collection registered after
the indexer passed its blocks is backfilled (`indexer_contracts.indexed_to`) before the cursor moves on.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

from eth_abi import decode as abi_decode
from eth_hash.auto import keccak as keccak256
from eth_utils import event_abi_to_log_topic, to_checksum_address
from sqlalchemy import Engine, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from web3.types import RPCEndpoint

import ticketkit as tk
from ticketkit import _artifacts

from .. import db
from ..models import Event, Fan, SendStatus, Ticket, Transfer, utcnow
from ..services.events import save_tiers
from .models import Badge, ChainEvent, Checkin, IndexedToken, IndexerBlock, IndexerContract, IndexerCursor

log = logging.getLogger(__name__)

ZERO = "0x0000000000000000000000000000000000000000"
CHUNK = 500  # rows per IN (...) query

EVENTS_T = db.table_of(ChainEvent)
TOKENS_T = db.table_of(IndexedToken)
BLOCKS_T = db.table_of(IndexerBlock)
CURSORS_T = db.table_of(IndexerCursor)
CONTRACTS_T = db.table_of(IndexerContract)
TICKETS_T = db.table_of(Ticket)
TRANSFERS_T = db.table_of(Transfer)
FANS_T = db.table_of(Fan)
GW_EVENTS_T = db.table_of(Event)
CHECKINS_T = db.table_of(Checkin)
BADGES_T = db.table_of(Badge)

# Which logs are kept, and what they do to a token.
COLLECTION_EVENTS = (
    "Transfer",
    "TicketsMinted",
    "TicketsPurchased",
    "CheckedIn",
    "Listed",
    "ListingCancelled",
    "ResaleBought",
    "GatewayTransferred",
    "Refunded",
    "EventCancelled",
    "TierAdded",
    "TierUpdated",
)
BADGE_EVENTS = ("Transfer", "BadgeRevoked")
TOKEN_EVENTS = frozenset({"Transfer", "CheckedIn", "Listed", "ListingCancelled", "ResaleBought"})
# event name -> (token id arg, from arg, to arg, price arg)
FIELDS = {
    "Transfer": ("id", "from", "to", None),
    "TicketsPurchased": (None, None, "buyer", "paid"),
    "CheckedIn": ("tokenId", None, "holder", None),
    "Listed": ("tokenId", "seller", None, "price"),
    "ListingCancelled": ("tokenId", None, None, None),
    "ResaleBought": ("tokenId", "seller", "buyer", "price"),
    "GatewayTransferred": ("tokenId", "from", "to", "price"),
    "Refunded": ("tokenId", "holder", None, "amount"),
    "BadgeRevoked": ("tokenId", "holder", None, None),
}


class IndexerError(Exception):
    pass


class ReorgTooDeep(IndexerError):
    """The chain diverged below every kept block hash: re-index from scratch (or raise reorg_window)."""


class _Retry(Exception):
    """The chain moved under us while reading a range: stop this poll, the next one sorts it out."""


@dataclass
class PollStats:
    head: int = 0
    target: int = 0
    from_block: int | None = None
    to_block: int | None = None
    ranges: int = 0
    events: int = 0
    tokens: int = 0
    tickets_created: int = 0
    checkins: int = 0
    badges: int = 0
    tiers: int = 0  # tiers read again after TierAdded/TierUpdated
    backfilled_events: int = 0
    reorgs: int = 0
    rolled_back_events: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Decoder:
    name: str
    indexed: tuple[tuple[str, str], ...]  # (arg name, type)
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]


def _decoders() -> dict[str, _Decoder]:
    table: dict[str, _Decoder] = {}
    for contract, names in (("TicketCollection", COLLECTION_EVENTS), ("AttendanceBadge", BADGE_EVENTS)):
        for entry in _artifacts.load(contract)["abi"]:
            if entry["type"] != "event" or entry["name"] not in names:
                continue
            topic = "0x" + event_abi_to_log_topic(entry).hex()
            table[topic] = _Decoder(
                entry["name"],
                tuple((i["name"], i["type"]) for i in entry["inputs"] if i["indexed"]),
                tuple(i["name"] for i in entry["inputs"] if not i["indexed"]),
                tuple(i["type"] for i in entry["inputs"] if not i["indexed"]),
            )
    return table


DECODERS = _decoders()
TOPICS = sorted(DECODERS)


@lru_cache(maxsize=65536)
def _checksum(address: str) -> str:
    """EIP-55, straight on the hex (eth_utils' to_checksum_address is ~100 µs: the hot spot)."""
    plain = address[2:].lower()
    if len(plain) != 40:
        return to_checksum_address(address)
    digest = keccak256(plain.encode()).hex()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(plain, digest))


def _topic_value(topic: str, typ: str) -> Any:
    if typ == "address":
        return _checksum("0x" + topic[-40:])
    if typ == "bool":
        return int(topic, 16) != 0
    if typ.startswith("uint"):
        return int(topic, 16)
    return topic  # dynamic types are hashed in topics


def _json_safe(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _new_state(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "tier_id": row.get("tier_id"),
        "owner": row["to_address"],
        "used": False,
        "burned": False,
        "listed_by": None,
        "listed_price_wei": None,
        "block_number": row["block_number"],
    }


def fold(state: dict[str, Any] | None, row: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """Apply one token event to a token's state (None: the token does not exist yet)."""
    name = row["name"]
    if name == "Transfer":
        if state is None or row["from_address"] == ZERO:
            state = _new_state(kind, row)
        else:
            state = dict(state, owner=row["to_address"])
        if row["to_address"] == ZERO:
            state["burned"] = True
        state["listed_by"] = state["listed_price_wei"] = None
    elif state is None:
        return None
    elif name == "CheckedIn":
        state = dict(state, used=True)
    elif name == "Listed":
        state = dict(state, listed_by=row["from_address"], listed_price_wei=row["price_wei"])
    elif name in ("ListingCancelled", "ResaleBought"):
        state = dict(state, listed_by=None, listed_price_wei=None)
    else:
        return state
    state["block_number"] = row["block_number"]
    return state


class Indexer:
    """Follows the registered events' logs on one chain. Not thread-safe: one poller per instance."""

    STATE_FIELDS = ("tier_id", "owner", "used", "burned", "listed_by", "listed_price_wei", "block_number")

    def __init__(
        self,
        engine: Engine,
        chain: tk.Chain,
        *,
        confirmations: int = 12,
        batch_blocks: int = 2000,
        reorg_window: int = 64,
        start_block: int = 0,
        poll_interval: float = 2.0,
    ):
        if confirmations < 0 or batch_blocks < 1 or reorg_window < 1:
            raise ValueError("confirmations >= 0, batch_blocks >= 1, reorg_window >= 1")
        self.engine = getattr(engine, "engine", engine)  # an Engine (or anything bound to one)
        self.chain = chain
        self.chain_id = chain.chain_id
        self.confirmations = confirmations
        self.batch_blocks = batch_blocks
        self.reorg_window = reorg_window
        self.start_block = start_block
        self.poll_interval = poll_interval
        self._insert = partial(db.insert, self.engine.dialect.name)
        self._issuers: dict[
            tuple[str, int], str
        ] = {}  # (badge contract, badge event id) -> issuer collection
        self.standing_by = False  # run_forever found another process indexing this chain

    # ---- JSON-RPC, raw (no web3 formatters: tens of thousands of logs per call)
    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.chain.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise IndexerError(f"{method}: {response['error']}")
        return response["result"]

    def _head(self) -> int:
        return int(self._rpc("eth_blockNumber", []), 16)

    def _block(self, number: int) -> dict[str, Any]:
        block = self._rpc("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise _Retry(f"block {number} is gone")
        return block

    def _hash(self, number: int) -> str | None:
        block = self._rpc("eth_getBlockByNumber", [hex(number), False])
        return None if block is None else block["hash"]

    def _logs(self, lo: int, hi: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        if not addresses:
            return []
        return self._rpc(
            "eth_getLogs",
            [{"fromBlock": hex(lo), "toBlock": hex(hi), "address": list(addresses), "topics": [TOPICS]}],
        )

    # ---- public API
    def poll_once(self) -> PollStats:
        """Check for a reorg, backfill newly registered contracts, then index up to head - confirmations."""
        import time

        started = time.perf_counter()
        stats = PollStats()
        stats.head = self._head()
        stats.target = stats.head - self.confirmations
        try:
            cursor = self._check_reorg(stats)
            contracts = self._register_contracts(cursor)
            for address, indexed_to in contracts.items():
                if indexed_to < cursor[0]:
                    self._backfill(address, indexed_to, cursor, contracts, stats)
            lo = cursor[0] + 1
            while lo <= stats.target:
                hi = min(lo + self.batch_blocks - 1, stats.target)
                cursor = self._index_range(lo, hi, cursor, contracts, stats)
                if stats.from_block is None:
                    stats.from_block = lo
                stats.to_block = hi
                stats.ranges += 1
                lo = hi + 1
        except _Retry as why:
            log.info("indexer: chain moved while reading (%s); retrying on the next poll", why)
        stats.seconds = time.perf_counter() - started
        return stats

    def run_forever(self, stop_event: threading.Event, interval: float | None = None) -> None:
        """Poll until `stop_event` is set, as the chain's one indexer among all processes on this database:
        one that finds another indexing stands by and takes over when that one stops or dies (`db.try_lease`).
        Errors (node down, ...) are logged and retried with backoff."""
        interval = self.poll_interval if interval is None else interval
        failures = 0
        lease: db.Lease | None = None
        try:
            while not stop_event.is_set():
                try:
                    lease = self._lead(lease)
                    if lease is not None:
                        stats = self.poll_once()
                        if stats.events or stats.reorgs:
                            log.info("indexer: %s", stats)
                    failures = 0
                except Exception:  # a poller must survive the node and the database blinking
                    failures += 1
                    log.exception("indexer: poll failed (%d in a row)", failures)
                stop_event.wait(min(interval * 2 ** min(failures, 5), 60) if failures else interval)
        finally:
            if lease is not None:
                lease.release()

    def _lead(self, lease: db.Lease | None) -> db.Lease | None:
        """The lease to index this chain under: kept while alive, else taken if free; None: another
        indexes."""
        if lease is not None:
            if lease.alive():
                return lease
            lease.release()
            log.warning("indexer: lost the lease on chain %s (database session ended)", self.chain_id)
        lease = db.try_lease(self.engine, f"indexer-{self.chain_id}")
        if lease is None and not self.standing_by:
            log.info("indexer: another process indexes chain %s; standing by", self.chain_id)
        elif lease is not None and self.standing_by:
            log.info("indexer: taking over chain %s", self.chain_id)
        self.standing_by = lease is None
        return lease

    # ---- cursor and reorgs
    def _cursor(self, conn: Connection) -> tuple[int, str | None]:
        row = conn.execute(
            select(CURSORS_T.c.block_number, CURSORS_T.c.block_hash).where(
                CURSORS_T.c.chain_id == self.chain_id
            )
        ).first()
        return (self.start_block - 1, None) if row is None else (row[0], row[1])

    def _check_reorg(self, stats: PollStats) -> tuple[int, str | None]:
        with self.engine.connect() as conn:
            cursor = self._cursor(conn)
        if cursor[1] is None or self._hash(cursor[0]) == cursor[1]:
            return cursor
        with self.engine.begin() as conn:
            kept = conn.execute(
                select(BLOCKS_T.c.block_number, BLOCKS_T.c.block_hash)
                .where(BLOCKS_T.c.chain_id == self.chain_id)
                .order_by(BLOCKS_T.c.block_number.desc())
            ).all()
            ancestor = next(((n, h) for n, h in kept if n < cursor[0] and self._hash(n) == h), None)
            if ancestor is None:
                raise ReorgTooDeep(
                    f"chain {self.chain_id} diverged below the {len(kept)} kept block hashes "
                    f"(cursor {cursor[0]})"
                )
            stats.reorgs += 1
            stats.rolled_back_events += self._rollback(conn, ancestor, cursor)
        log.warning(
            "indexer: reorg on chain %s, rolled back from block %s to %s",
            self.chain_id,
            cursor[0],
            ancestor[0],
        )
        return ancestor

    def _rollback(self, conn: Connection, ancestor: tuple[int, str], cursor: tuple[int, str | None]) -> int:
        """Delete every row derived from blocks above `ancestor`; recompute the tokens they touched."""
        n = ancestor[0]
        above = and_(EVENTS_T.c.chain_id == self.chain_id, EVENTS_T.c.block_number > n)
        keys = {
            (c, t)
            for c, t in conn.execute(
                select(EVENTS_T.c.contract, EVENTS_T.c.token_id)
                .distinct()
                .where(above, EVENTS_T.c.token_id.is_not(None), EVENTS_T.c.name.in_(TOKEN_EVENTS))
            )
        }
        revoked_keys = {
            (c, t)
            for c, t in conn.execute(
                select(EVENTS_T.c.contract, EVENTS_T.c.token_id)
                .distinct()
                .where(above, EVENTS_T.c.name == "BadgeRevoked")
            )
        }
        removed = conn.execute(delete(EVENTS_T).where(above)).rowcount
        conn.execute(
            delete(CHECKINS_T).where(CHECKINS_T.c.chain_id == self.chain_id, CHECKINS_T.c.block_number > n)
        )
        conn.execute(
            delete(BADGES_T).where(BADGES_T.c.chain_id == self.chain_id, BADGES_T.c.block_number > n)
        )
        self._recompute_revocations(conn, revoked_keys)
        conn.execute(
            delete(BLOCKS_T).where(BLOCKS_T.c.chain_id == self.chain_id, BLOCKS_T.c.block_number > n)
        )
        conn.execute(
            update(CONTRACTS_T)
            .where(CONTRACTS_T.c.chain_id == self.chain_id, CONTRACTS_T.c.indexed_to > n)
            .values(indexed_to=n)
        )
        self._move_cursor(conn, cursor, ancestor)
        kinds = self._kinds(conn)
        states: dict[tuple[str, str], dict[str, Any] | None] = dict.fromkeys(keys)
        for row in self._events_of(conn, sorted(keys)):
            key = (row["contract"], row["token_id"])
            states[key] = fold(states[key], row, kinds.get(row["contract"], ("ticket", None))[0])
        for contract, token_ids in self._by_contract(keys).items():
            for part in _chunks(token_ids):
                conn.execute(
                    delete(TOKENS_T).where(
                        TOKENS_T.c.chain_id == self.chain_id,
                        TOKENS_T.c.contract == contract,
                        TOKENS_T.c.token_id.in_(part),
                    )
                )
        self._write_tokens(conn, {k: s for k, s in states.items() if s is not None}, existing={})
        self._sync_tickets(conn, states, kinds)
        return removed

    def _move_cursor(self, conn: Connection, old: tuple[int, str | None], new: tuple[int, str]) -> None:
        values = {"block_number": new[0], "block_hash": new[1], "updated_at": utcnow()}
        if old[1] is None:
            conn.execute(insert(CURSORS_T).values(chain_id=self.chain_id, **values))
            return
        moved = conn.execute(
            update(CURSORS_T)
            .where(
                CURSORS_T.c.chain_id == self.chain_id,
                CURSORS_T.c.block_number == old[0],
                CURSORS_T.c.block_hash == old[1],
            )
            .values(**values)
        ).rowcount
        if moved != 1:
            raise IndexerError("the cursor moved under this indexer: is another one running on this chain?")

    # ---- watched contracts
    def _register_contracts(self, cursor: tuple[int, str | None]) -> dict[str, int]:
        """Start watching newly registered events' addresses; returns {address: indexed_to}."""
        with self.engine.begin() as conn:
            known = {
                a: n
                for a, n in conn.execute(
                    select(CONTRACTS_T.c.address, CONTRACTS_T.c.indexed_to).where(
                        CONTRACTS_T.c.chain_id == self.chain_id
                    )
                )
            }
            new: dict[str, dict[str, Any]] = {}
            for event_id, collection, badge in conn.execute(
                select(GW_EVENTS_T.c.id, GW_EVENTS_T.c.collection_address, GW_EVENTS_T.c.badge_address)
                .where(GW_EVENTS_T.c.chain_id == self.chain_id)
                .order_by(GW_EVENTS_T.c.created_at)
            ):
                for address, kind in ((collection, "collection"), (badge, "badge")):
                    if address is None:
                        continue
                    address = _checksum(address)
                    if address not in known and address not in new:
                        new[address] = {
                            "chain_id": self.chain_id,
                            "address": address,
                            "kind": kind,
                            "event_id": event_id if kind == "collection" else None,
                            "indexed_to": self.start_block - 1,
                        }
            if new:
                conn.execute(self._insert(CONTRACTS_T).on_conflict_do_nothing(), list(new.values()))
                known.update({a: r["indexed_to"] for a, r in new.items()})
        return known

    def _kinds(self, conn: Connection) -> dict[str, tuple[str, Any]]:
        """{address: ('ticket'|'badge', gateway event id)}"""
        return {
            a: ("ticket" if k == "collection" else "badge", e)
            for a, k, e in conn.execute(
                select(CONTRACTS_T.c.address, CONTRACTS_T.c.kind, CONTRACTS_T.c.event_id).where(
                    CONTRACTS_T.c.chain_id == self.chain_id
                )
            )
        }

    def _backfill(
        self,
        address: str,
        indexed_to: int,
        cursor: tuple[int, str | None],
        contracts: dict[str, int],
        stats: PollStats,
    ) -> None:
        lo = indexed_to + 1
        while lo <= cursor[0]:
            hi = min(lo + self.batch_blocks - 1, cursor[0])
            rows = self._decode(self._logs(lo, hi, [address]))
            if cursor[1] is not None and self._hash(cursor[0]) != cursor[1]:
                raise _Retry("reorg during backfill")
            with self.engine.begin() as conn:
                self._ingest(conn, rows, stats)
                moved = conn.execute(
                    update(CONTRACTS_T)
                    .where(
                        CONTRACTS_T.c.chain_id == self.chain_id,
                        CONTRACTS_T.c.address == address,
                        CONTRACTS_T.c.indexed_to == lo - 1,
                    )
                    .values(indexed_to=hi)
                ).rowcount
                if moved != 1:
                    raise IndexerError(f"backfill of {address} moved under this indexer")
            stats.backfilled_events += len(rows)
            contracts[address] = hi
            lo = hi + 1

    # ---- one block range
    def _index_range(
        self, lo: int, hi: int, cursor: tuple[int, str | None], contracts: dict[str, int], stats: PollStats
    ) -> tuple[int, str]:
        addresses = [a for a, n in contracts.items() if n == cursor[0]]
        keep_from = max(lo, stats.target - self.reorg_window + 1)
        hashes: dict[int, str] = {}
        first = self._block(lo)
        if cursor[1] is not None and first["parentHash"] != cursor[1]:
            raise _Retry(f"block {lo} does not follow the cursor")
        hashes[lo] = first["hash"]
        for n in range(max(keep_from, lo + 1), hi + 1):
            hashes[n] = self._block(n)["hash"]
        if hi not in hashes:
            hashes[hi] = self._block(hi)["hash"]
        raw = self._logs(lo, hi, addresses)
        for entry in raw:
            known = hashes.get(int(entry["blockNumber"], 16))
            if known is not None and known != entry["blockHash"]:
                raise _Retry("logs from another fork")
        if self._hash(hi) != hashes[hi]:
            raise _Retry(f"block {hi} changed")
        rows = self._decode(raw)
        with self.engine.begin() as conn:
            self._ingest(conn, rows, stats)
            kept = [
                {"chain_id": self.chain_id, "block_number": n, "block_hash": h}
                for n, h in hashes.items()
                if n >= keep_from or n == hi
            ]
            conn.execute(
                self._insert(BLOCKS_T).on_conflict_do_update(
                    index_elements=["chain_id", "block_number"],
                    set_={"block_hash": self._insert(BLOCKS_T).excluded.block_hash},
                ),
                kept,
            )
            conn.execute(
                delete(BLOCKS_T).where(
                    BLOCKS_T.c.chain_id == self.chain_id, BLOCKS_T.c.block_number <= hi - self.reorg_window
                )
            )
            conn.execute(
                update(CONTRACTS_T)
                .where(CONTRACTS_T.c.chain_id == self.chain_id, CONTRACTS_T.c.indexed_to == cursor[0])
                .values(indexed_to=hi)
            )
            self._move_cursor(conn, cursor, (hi, hashes[hi]))
        for a in addresses:
            contracts[a] = hi
        stats.events += len(rows)
        return hi, hashes[hi]

    def _decode(self, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Logs -> chain_events rows (in chain order), with each mint's tier resolved from its transaction."""
        rows: list[dict[str, Any]] = []
        mints: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
        raw = sorted(
            (e for e in raw if not e.get("removed")),
            key=lambda e: (int(e["blockNumber"], 16), int(e["logIndex"], 16)),
        )
        for entry in raw:
            topics = entry["topics"]
            decoder = DECODERS.get(topics[0]) if topics else None
            if decoder is None or len(topics) != len(decoder.indexed) + 1:
                continue  # another event with the same name/shape (e.g. ERC-20 Transfer) - not ours
            values = {name: _topic_value(t, typ) for (name, typ), t in zip(decoder.indexed, topics[1:])}
            if decoder.data_types:
                data = bytes.fromhex(entry["data"][2:])
                values.update(zip(decoder.data_names, abi_decode(decoder.data_types, data)))
            contract = _checksum(entry["address"])
            token_arg, from_arg, to_arg, price_arg = FIELDS.get(decoder.name, (None, None, None, None))
            row = {
                "id": uuid.uuid4(),
                "chain_id": self.chain_id,
                "block_number": int(entry["blockNumber"], 16),
                "block_hash": entry["blockHash"],
                "log_index": int(entry["logIndex"], 16),
                "tx_hash": entry["transactionHash"],
                "contract": contract,
                "name": decoder.name,
                "token_id": str(values[token_arg]) if token_arg else None,
                "from_address": values[from_arg] if from_arg else None,
                "to_address": values[to_arg] if to_arg else None,
                "price_wei": str(values[price_arg]) if price_arg else None,
                "tier_id": None,
                "args": None,
            }
            if decoder.name in ("TicketsMinted", "TicketsPurchased"):
                mints.setdefault((row["tx_hash"], contract), []).append(
                    (values["firstTokenId"], values["quantity"], values["tierId"])
                )
            if decoder.name not in FIELDS or decoder.name in (
                "ResaleBought",
                "BadgeRevoked",
                "TicketsPurchased",
            ):
                used = {token_arg, from_arg, to_arg, price_arg}
                extra = {k: _json_safe(v) for k, v in values.items() if k not in used}
                row["args"] = json.dumps(extra, sort_keys=True) if extra else None
            rows.append(row)
        if mints:
            for row in rows:
                if row["name"] == "Transfer" and row["from_address"] == ZERO:
                    token = int(row["token_id"])
                    for first, quantity, tier in mints.get((row["tx_hash"], row["contract"]), ()):
                        if first <= token < first + quantity:
                            row["tier_id"] = tier
                            break
        return rows

    # ---- applying events
    def _ingest(self, conn: Connection, rows: list[dict[str, Any]], stats: PollStats) -> None:
        if not rows:
            return
        conn.execute(insert(EVENTS_T), rows)
        kinds = self._kinds(conn)
        token_rows = [r for r in rows if r["name"] in TOKEN_EVENTS and r["token_id"] is not None]
        if token_rows:
            self._ingest_tokens(conn, token_rows, kinds, stats)
        self._ingest_records(conn, rows, kinds, stats)

    def _ingest_tokens(
        self,
        conn: Connection,
        token_rows: list[dict[str, Any]],
        kinds: dict[str, tuple[str, Any]],
        stats: PollStats,
    ) -> None:
        keys = sorted({(r["contract"], r["token_id"]) for r in token_rows})
        existing = self._load_tokens(conn, keys)
        states: dict[tuple[str, str], dict[str, Any] | None] = {
            k: (dict(v) if v else None) for k, v in existing.items()
        }
        for row in token_rows:
            key = (row["contract"], row["token_id"])
            states[key] = fold(states.get(key), row, kinds.get(row["contract"], ("ticket", None))[0])
        live = {k: s for k, s in states.items() if s is not None}
        self._write_tokens(conn, live, existing)
        stats.tokens += len(live)
        stats.tickets_created += self._sync_tickets(conn, states, kinds)

    # ---- records: check-ins and attendance badges
    def _ingest_records(
        self,
        conn: Connection,
        rows: list[dict[str, Any]],
        kinds: dict[str, tuple[str, Any]],
        stats: PollStats,
    ) -> None:
        """checkins from CheckedIn; badges from the badge's Transfer from zero, revoked by BadgeRevoked; tiers
        read again from the chain on TierAdded/TierUpdated."""

        def kind(row: dict[str, Any]) -> str | None:
            return kinds.get(row["contract"], (None,))[0]

        changed_tiers: dict[str, set[int]] = {}
        for r in rows:
            if r["name"] in ("TierAdded", "TierUpdated") and kind(r) == "ticket":
                changed_tiers.setdefault(r["contract"], set()).add(int(json.loads(r["args"])["tierId"]))
        for contract, tier_ids in changed_tiers.items():
            collection = tk.Collection(self.chain, contract)
            save_tiers(conn, kinds[contract][1], [collection.tier(t) for t in sorted(tier_ids)])
            stats.tiers += len(tier_ids)

        checkins = [r for r in rows if r["name"] == "CheckedIn" and kind(r) == "ticket"]
        issued = [
            r for r in rows if r["name"] == "Transfer" and r["from_address"] == ZERO and kind(r) == "badge"
        ]
        revoked = sorted(
            {
                (r["contract"], r["token_id"])
                for r in rows
                if r["name"] == "BadgeRevoked" and kind(r) == "badge"
            }
        )
        if checkins:
            tickets: dict[tuple[str, str], Any] = {}
            for contract, token_ids in self._by_contract(
                {(r["contract"], r["token_id"]) for r in checkins}
            ).items():
                for part in _chunks([int(t) for t in token_ids]):
                    tickets.update(
                        {
                            (contract, str(t)): i
                            for i, t in conn.execute(
                                select(TICKETS_T.c.id, TICKETS_T.c.token_id).where(
                                    TICKETS_T.c.chain_id == self.chain_id,
                                    TICKETS_T.c.contract == contract,
                                    TICKETS_T.c.token_id.in_(part),
                                )
                            )
                        }
                    )
            values = [
                {
                    "id": uuid.uuid4(),
                    "event_id": kinds[r["contract"]][1],
                    "ticket_id": tickets.get((r["contract"], r["token_id"])),
                    "chain_id": self.chain_id,
                    "contract": r["contract"],
                    "token_id": int(r["token_id"]),
                    "holder": r["to_address"],
                    "block_number": r["block_number"],
                    "tx_hash": r["tx_hash"],
                    "log_index": r["log_index"],
                }
                for r in checkins
            ]
            conn.execute(
                self._insert(CHECKINS_T).on_conflict_do_nothing(
                    index_elements=["chain_id", "tx_hash", "log_index"]
                ),
                values,
            )
            stats.checkins += len(values)
        if issued:
            # the collection checking in within the same transaction issued the badge; else ask the badge
            by_tx = {r["tx_hash"]: kinds[r["contract"]][1] for r in checkins}
            holders = sorted({r["to_address"] for r in issued})
            fans: dict[str, Any] = {}
            for part in _chunks(holders):
                fans.update(
                    {
                        a: i
                        for i, a in conn.execute(
                            select(FANS_T.c.id, FANS_T.c.address).where(FANS_T.c.address.in_(part))
                        )
                    }
                )
            values = [
                {
                    "id": uuid.uuid4(),
                    "event_id": by_tx.get(r["tx_hash"])
                    or self._badge_event(conn, r["contract"], r["token_id"]),
                    "chain_id": self.chain_id,
                    "contract": r["contract"],
                    "token_id": r["token_id"],
                    "holder": r["to_address"],
                    "fan_id": fans.get(r["to_address"]),
                    "revoked": False,
                    "block_number": r["block_number"],
                }
                for r in issued
            ]
            conn.execute(
                self._insert(BADGES_T).on_conflict_do_nothing(
                    index_elements=["chain_id", "contract", "token_id"]
                ),
                values,
            )
            stats.badges += len(values)
        if revoked:
            conn.execute(
                update(BADGES_T)
                .where(
                    BADGES_T.c.chain_id == self.chain_id,
                    BADGES_T.c.contract == bindparam("_contract"),
                    BADGES_T.c.token_id == bindparam("_token_id"),
                )
                .values(revoked=True),
                [{"_contract": c, "_token_id": t} for c, t in revoked],
            )

    def _badge_event(self, conn: Connection, contract: str, token_id: str) -> Any:
        """The gateway event whose collection issued badge `token_id` (its badge event id is the top bits)."""
        key = (contract, int(token_id) >> 160)
        issuer = self._issuers.get(key)
        if issuer is None:
            issuer = _checksum(tk.Badge(self.chain, contract).call("issuerOf", key[1]))
            if issuer == ZERO:
                return None
            self._issuers[key] = issuer
        return conn.execute(
            select(GW_EVENTS_T.c.id).where(
                GW_EVENTS_T.c.chain_id == self.chain_id,
                func.lower(GW_EVENTS_T.c.collection_address) == issuer.lower(),
            )
        ).scalar()

    def _recompute_revocations(self, conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
        """After a rollback: a badge is revoked iff a BadgeRevoked for it remains in chain_events."""
        for contract, token_ids in self._by_contract(keys).items():
            for part in _chunks(token_ids):
                still = {
                    t
                    for (t,) in conn.execute(
                        select(EVENTS_T.c.token_id).where(
                            EVENTS_T.c.chain_id == self.chain_id,
                            EVENTS_T.c.contract == contract,
                            EVENTS_T.c.name == "BadgeRevoked",
                            EVENTS_T.c.token_id.in_(part),
                        )
                    )
                }
                for flag, ids in (
                    (True, [t for t in part if t in still]),
                    (False, [t for t in part if t not in still]),
                ):
                    if ids:
                        conn.execute(
                            update(BADGES_T)
                            .where(
                                BADGES_T.c.chain_id == self.chain_id,
                                BADGES_T.c.contract == contract,
                                BADGES_T.c.token_id.in_(ids),
                            )
                            .values(revoked=flag)
                        )

    def _by_contract(self, keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for contract, token_id in keys:
            grouped.setdefault(contract, []).append(token_id)
        return grouped

    def _load_tokens(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        cols = [
            TOKENS_T.c.id,
            TOKENS_T.c.contract,
            TOKENS_T.c.token_id,
            TOKENS_T.c.kind,
            *(TOKENS_T.c[f] for f in self.STATE_FIELDS),
        ]
        for contract, token_ids in self._by_contract(keys).items():
            for part in _chunks(token_ids):
                for row in conn.execute(
                    select(*cols).where(
                        TOKENS_T.c.chain_id == self.chain_id,
                        TOKENS_T.c.contract == contract,
                        TOKENS_T.c.token_id.in_(part),
                    )
                ).mappings():
                    found[(row["contract"], row["token_id"])] = dict(row)
        return found

    def _events_of(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for contract, token_ids in self._by_contract(keys).items():
            for part in _chunks(token_ids):
                rows.extend(
                    dict(r)
                    for r in conn.execute(
                        select(EVENTS_T).where(
                            EVENTS_T.c.chain_id == self.chain_id,
                            EVENTS_T.c.contract == contract,
                            EVENTS_T.c.token_id.in_(part),
                            EVENTS_T.c.name.in_(TOKEN_EVENTS),
                        )
                    ).mappings()
                )
        rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
        return rows

    def _write_tokens(
        self,
        conn: Connection,
        states: dict[tuple[str, str], dict[str, Any]],
        existing: dict[tuple[str, str], Any],
    ) -> None:
        inserts, updates = [], []
        for (contract, token_id), state in states.items():
            values = {f: state[f] for f in self.STATE_FIELDS}
            old = existing.get((contract, token_id))
            if old is None:
                inserts.append(
                    {
                        "id": uuid.uuid4(),
                        "chain_id": self.chain_id,
                        "contract": contract,
                        "token_id": token_id,
                        "kind": state["kind"],
                        **values,
                    }
                )
            elif any(old[f] != values[f] for f in self.STATE_FIELDS):
                updates.append({"_id": old["id"], **values})
        if inserts:
            conn.execute(insert(TOKENS_T), inserts)
        if updates:
            conn.execute(
                update(TOKENS_T)
                .where(TOKENS_T.c.id == bindparam("_id"))
                .values({f: bindparam(f) for f in self.STATE_FIELDS}),
                updates,
            )

    def _unconfirmed_transfers(self, conn: Connection, ticket_ids: list[Any]) -> set[Any]:
        """Tickets with a completed gateway transfer (gift, resale) whose transaction is not indexed yet."""
        found: set[Any] = set()
        indexed = (
            select(EVENTS_T.c.id)
            .where(EVENTS_T.c.chain_id == self.chain_id, EVENTS_T.c.tx_hash == TRANSFERS_T.c.tx_hash)
            .exists()
        )
        for part in _chunks(ticket_ids):
            found.update(
                conn.execute(
                    select(TRANSFERS_T.c.ticket_id).where(
                        TRANSFERS_T.c.ticket_id.in_(part),
                        TRANSFERS_T.c.status == SendStatus.done,
                        TRANSFERS_T.c.tx_hash.is_not(None),
                        ~indexed,
                    )
                ).scalars()
            )
        return found

    def _sync_tickets(
        self,
        conn: Connection,
        states: dict[tuple[str, str], dict[str, Any] | None],
        kinds: dict[str, tuple[str, Any]],
    ) -> int:
        """Make the gateway's tickets follow the tokens: owner fan, records for tickets minted elsewhere."""
        tickets = {k: s for k, s in states.items() if kinds.get(k[0], ("ticket",))[0] == "ticket"}
        if not tickets:
            return 0
        owners = sorted({s["owner"] for s in tickets.values() if s is not None and not s["burned"]})
        fans: dict[str, Any] = {}
        for part in _chunks(owners):
            fans.update(
                {
                    a: i
                    for i, a in conn.execute(
                        select(FANS_T.c.id, FANS_T.c.address).where(FANS_T.c.address.in_(part))
                    )
                }
            )
        current: dict[tuple[str, str], Any] = {}
        for contract, token_ids in self._by_contract(tickets).items():
            for part in _chunks([int(t) for t in token_ids]):
                for row in conn.execute(
                    select(
                        TICKETS_T.c.id,
                        TICKETS_T.c.token_id,
                        TICKETS_T.c.owner_fan_id,
                        TICKETS_T.c.issuance_id,
                    ).where(
                        TICKETS_T.c.chain_id == self.chain_id,
                        TICKETS_T.c.contract == contract,
                        TICKETS_T.c.token_id.in_(part),
                    )
                ):
                    current[(contract, str(row.token_id))] = row
        created: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        gone: list[Any] = []
        now = utcnow()
        for (contract, token_id), state in tickets.items():
            known = current.get((contract, token_id))
            if state is None:
                if known is not None:
                    gone.append(known)
                continue
            fan = None if state["burned"] else fans.get(state["owner"])
            if known is None:
                tier = state["tier_id"]
                if tier is None:  # not seen its mint (should not happen): ask the chain
                    tier = tk.Collection(self.chain, contract).ticket(int(token_id)).tier_id
                created.append(
                    {
                        "id": uuid.uuid4(),
                        "event_id": kinds[contract][1],
                        "chain_id": self.chain_id,
                        "contract": contract,
                        "token_id": int(token_id),
                        "tier_id": tier,
                        "owner_fan_id": fan,
                        "issuance_id": None,
                        "created_at": now,
                    }
                )
            elif known.owner_fan_id != fan:
                moved.append({"_id": known.id, "owner_fan_id": fan})
        if created:  # the gateway may have recorded an issuance's tickets meanwhile: theirs win
            conn.execute(
                self._insert(TICKETS_T).on_conflict_do_nothing(
                    index_elements=["chain_id", "contract", "token_id"]
                ),
                created,
            )
        if moved:  # a gateway transfer not confirmed yet is newer than the confirmed state: its owner stands
            ahead = self._unconfirmed_transfers(conn, [m["_id"] for m in moved])
            moved = [m for m in moved if m["_id"] not in ahead]
        if moved:
            conn.execute(
                update(TICKETS_T)
                .where(TICKETS_T.c.id == bindparam("_id"))
                .values(owner_fan_id=bindparam("owner_fan_id")),
                moved,
            )
        for row in gone:  # minted on a fork that lost: drop our own record, orphan the gateway's
            if row.issuance_id is None:
                try:
                    with conn.begin_nested():
                        conn.execute(delete(TICKETS_T).where(TICKETS_T.c.id == row.id))
                    continue
                except IntegrityError:
                    pass  # referenced by transfers or listings: keep it, held by nobody
            conn.execute(update(TICKETS_T).where(TICKETS_T.c.id == row.id).values(owner_fan_id=None))
        return len(created)
