"""Trusted-attendee presale: who holds enough of an organiser's attendance badges at a block, and the
Merkle snapshot of them that a tier's presale accepts (`buyWithProof`).

    import ticketkit as tk
    snap = tk.presale.take_snapshot(chain, badge.address, [1, 2, 3], min_events=2, block=1_234)
    collection.set_presale(tier_id, ends_at=..., min_events=2, event_ids=[1, 2, 3],
                           merkle_root=snap.root, sender=organiser)
    collection.buy(tier_id, 1, proof=snap.proof(fan.address), sender=fan)

The tree is OpenZeppelin's `StandardMerkleTree` for the leaf type `["address"]` (npm
`@openzeppelin/merkle-tree`), so `StandardMerkleTree.of(addresses.map(a => [a]), ["address"]).root`
gives the same root and `getProof` the same proofs:

- leaf = keccak256(keccak256(abi.encode(address))) — hashed twice, as the contract checks it;
- the leaves are deduplicated and sorted (as 32-byte values); the tree is an array `tree` of 2n-1 nodes,
  leaf i at `tree[2n-2-i]`, node i = hash of the sorted pair (tree[2i+1], tree[2i+2]), root `tree[0]`;
- a proof is the siblings from the leaf up to the root (`MerkleProof.verify` folds them with sorted pairs).

An empty set has no tree: its root is bytes32(0), which the contract reads as "no snapshot". A set of
one address has an empty proof: its leaf is the root, which the contract accepts (even through plain `buy`).

Eligibility at a block is the contract's own definition: candidates are the holders minted a badge of
one of the listed events (the badge's Transfer logs from the zero address, up to the block), and each
is kept if `attendedCount(holder, eventIds)` at that block (an eth_call with block_identifier) is at least
`min_events`. A revoked badge is burnt, so it no longer counts; badges never move (soulbound), so no
one else's badge can count for a holder. Recomputing at a block far behind the head needs a node that
keeps old state (an archive node; anvil keeps everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from .chain import Chain, translate_error
from .errors import InvalidInput

__all__ = [
    "ZERO_ROOT",
    "BadgeRule",
    "Snapshot",
    "deployment_block",
    "eligible_holders",
    "leaf_hash",
    "merkle_proof",
    "merkle_root",
    "merkle_tree",
    "take_snapshot",
    "verify_proof",
]

ZERO_ROOT = b"\0" * 32
_TRANSFER = keccak(text="Transfer(address,address,uint256)")
_ZERO_TOPIC = b"\0" * 32
_EVENT_SHIFT = 160  # badge id = eventId << 160 | holder
_LOG_BATCH = 10_000  # blocks per eth_getLogs (providers cap ranges)
_CALL_WORKERS = 8


# ---------------------------------------------------------------- the Merkle tree


def _address(value: str, where: str = "address") -> str:
    if not isinstance(value, str) or not is_address(value):
        raise InvalidInput(f"{value!r} is not an address", where=where)
    return to_checksum_address(value)


def leaf_hash(address: str) -> bytes:
    """keccak256(keccak256(abi.encode(address))): the leaf the contract checks for a buyer."""
    return keccak(keccak(abi_encode(["address"], [_address(address)])))


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a <= b else keccak(b + a)


def merkle_tree(addresses: Iterable[str]) -> list[bytes]:
    """The whole tree as OpenZeppelin lays it out (root at index 0); [] for no addresses."""
    leaves = sorted({leaf_hash(a) for a in addresses})
    if not leaves:
        return []
    tree: list[bytes] = [b""] * (2 * len(leaves) - 1)
    for i, leaf in enumerate(leaves):
        tree[len(tree) - 1 - i] = leaf
    for i in range(len(tree) - 1 - len(leaves), -1, -1):
        tree[i] = _hash_pair(tree[2 * i + 1], tree[2 * i + 2])
    return tree


def merkle_root(addresses: Iterable[str]) -> bytes:
    """The root of the set of `addresses` (order and duplicates do not matter); ZERO_ROOT when empty."""
    tree = merkle_tree(addresses)
    return tree[0] if tree else ZERO_ROOT


def _proof_in(tree: list[bytes], address: str) -> list[bytes]:
    leaf = leaf_hash(address)
    n = (len(tree) + 1) // 2
    try:
        index = tree.index(leaf, len(tree) - n)
    except ValueError:
        raise InvalidInput(f"{to_checksum_address(address)} is not in the set", where="address") from None
    proof = []
    while index > 0:
        proof.append(tree[index + 1 if index % 2 else index - 1])
        index = (index - 1) // 2
    return proof


def merkle_proof(addresses: Iterable[str], address: str) -> list[bytes]:
    """The proof of `address` in the set (InvalidInput if it is not in it)."""
    return _proof_in(merkle_tree(addresses), address)


def verify_proof(root: bytes, address: str, proof: Sequence[bytes]) -> bool:
    """What the contract's `MerkleProof.verify(proof, root, leaf(address))` answers."""
    node = leaf_hash(address)
    for sibling in proof:
        node = _hash_pair(node, bytes(sibling))
    return bytes(root) == node


# ---------------------------------------------------------------- eligibility at a block


@dataclass(frozen=True)
class BadgeRule:
    """Holders of at least `min_events` of the badges `event_ids` (badge event ids) of one badge contract."""

    badge: str
    event_ids: tuple[int, ...]
    min_events: int

    def to_dict(self) -> dict[str, Any]:
        return {"badge": self.badge, "event_ids": list(self.event_ids), "min_events": self.min_events}


@dataclass(frozen=True)
class Snapshot:
    """The eligible set of `rule` at `block`, and its Merkle root. `addresses` are checksummed, sorted."""

    block: int
    root: bytes
    addresses: tuple[str, ...]
    rule: BadgeRule

    def __contains__(self, address: object) -> bool:
        return (
            isinstance(address, str)
            and is_address(address)
            and to_checksum_address(address) in self.addresses
        )

    def proof(self, address: str) -> list[bytes]:
        """The proof for `address` to pass to `buyWithProof` (InvalidInput if not in the snapshot)."""
        return _proof_in(merkle_tree(self.addresses), address)

    def to_dict(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "root": "0x" + self.root.hex(),
            "rule": self.rule.to_dict(),
            "addresses": list(self.addresses),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        """Load a `to_dict()`; the root is recomputed from the addresses and must match."""
        rule = BadgeRule(
            _address(data["rule"]["badge"], "rule.badge"),
            tuple(int(e) for e in data["rule"]["event_ids"]),
            int(data["rule"]["min_events"]),
        )
        addresses = tuple(sorted({_address(a) for a in data["addresses"]}, key=str.lower))
        root = merkle_root(addresses)
        if "0x" + root.hex() != str(data["root"]).lower():
            raise InvalidInput(f"the addresses give root 0x{root.hex()}, not {data['root']}", where="root")
        return cls(int(data["block"]), root, addresses, rule)


def _check_rule(event_ids: Sequence[int], min_events: int) -> tuple[int, ...]:
    ids = tuple(int(e) for e in event_ids)
    if not ids:
        raise InvalidInput("list at least one badge event id", where="event_ids")
    if any(e <= 0 or e >= 2**64 for e in ids):
        raise InvalidInput(f"badge event ids are 1 .. 2**64-1, got {list(ids)}", where="event_ids")
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"{list(ids)} lists an event twice (it would count twice)", where="event_ids")
    if not 1 <= min_events <= len(ids):
        raise InvalidInput(
            f"min_events must be 1 .. {len(ids)} (the number of events), got {min_events}", where="min_events"
        )
    return ids


def _resolve_block(chain: Chain, block: int | None) -> int:
    try:
        head = chain.w3.eth.block_number
    except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
        raise translate_error(error) from None
    if block is None:
        return head
    if not 0 <= block <= head:
        raise InvalidInput(f"block {block} is not between 0 and the head ({head})", where="block")
    return block


def _minted_holders(
    chain: Chain, badge: str, event_ids: set[int], from_block: int, to_block: int
) -> set[str]:
    """Everyone minted a badge of one of `event_ids` in [from_block, to_block] (Transfer from zero)."""
    holders: set[str] = set()
    start = from_block
    while start <= to_block:
        end = min(start + _LOG_BATCH - 1, to_block)
        try:
            logs = chain.w3.eth.get_logs(
                {
                    "address": to_checksum_address(badge),
                    "fromBlock": start,
                    "toBlock": end,
                    "topics": ["0x" + _TRANSFER.hex(), "0x" + _ZERO_TOPIC.hex()],
                }
            )
        except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
            raise translate_error(error) from None
        for log in logs:
            token_id = int.from_bytes(bytes(log["topics"][3]), "big")
            if token_id >> _EVENT_SHIFT in event_ids:
                holders.add(to_checksum_address(bytes(log["topics"][2])[-20:]))
        start = end + 1
    return holders


def deployment_block(chain: Chain, address: str, block: int) -> int | None:
    """The first block at which `address` has code, searched up to `block` (None: no code there yet)."""

    def has_code(n: int) -> bool:
        try:
            return bool(chain.w3.eth.get_code(to_checksum_address(address), block_identifier=n))
        except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
            raise translate_error(error) from None

    if not has_code(block):
        return None
    low, high = 0, block  # the answer is in [low, high]
    while low < high:
        middle = (low + high) // 2
        if has_code(middle):
            high = middle
        else:
            low = middle + 1
    return low


def eligible_holders(
    chain: Chain,
    badge_address: str,
    badge_event_ids: Sequence[int],
    min_events: int,
    block: int | None = None,
    *,
    from_block: int | None = None,
) -> list[str]:
    """Holders with badges of at least `min_events` of `badge_event_ids` at `block` (default: the head).

    Sorted, checksummed. The logs are scanned from `from_block`, by default the badge's deployment block
    (found by bisecting eth_getCode): it only shortens the scan, never changes the answer.
    """
    ids = _check_rule(badge_event_ids, min_events)
    badge = _address(badge_address, "badge")
    block = _resolve_block(chain, block)
    if from_block is None:
        from_block = deployment_block(chain, badge, block)
        if from_block is None:  # no badge contract yet at that block: nobody holds a badge
            return []
    candidates = _minted_holders(chain, badge, set(ids), max(0, from_block), block)
    contract = chain.contract("AttendanceBadge", badge)

    def count(holder: str) -> int:
        try:
            attended: int = contract.functions.attendedCount(holder, list(ids)).call(block_identifier=block)
            return attended
        except Exception as error:  # noqa: BLE001  # web3 raises many kinds; translate_error maps them
            raise translate_error(error) from None

    ordered = sorted(candidates, key=str.lower)
    with ThreadPoolExecutor(max_workers=_CALL_WORKERS) as pool:
        counts = list(pool.map(count, ordered))
    return [holder for holder, n in zip(ordered, counts) if n >= min_events]


def take_snapshot(
    chain: Chain,
    badge_address: str,
    badge_event_ids: Sequence[int],
    min_events: int,
    block: int | None = None,
    *,
    from_block: int | None = None,
) -> Snapshot:
    """The eligible set at `block` (default: the head at the time of the call) and its root.

    Deterministic: anyone with the same rule and block gets the same addresses and root.
    """
    ids = _check_rule(badge_event_ids, min_events)
    block = _resolve_block(chain, block)
    holders = eligible_holders(chain, badge_address, ids, min_events, block, from_block=from_block)
    return Snapshot(
        block=block,
        root=merkle_root(holders),
        addresses=tuple(holders),
        rule=BadgeRule(_address(badge_address, "badge"), ids, min_events),
    )
