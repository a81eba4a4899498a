"""The fee policy: EIP-1559 fees from the node, a per-chain tip floor, the operator's ceiling, replacement
bumps.

    policy = FeePolicy.for_chain(137, max_fee_gwei=500)
    fees = policy.suggest(rpc)            # Fees(max_fee=..., tip=...) or FeeCeilingExceeded
    bumped = policy.bump(fees, rpc)       # >= +12.5 % on both fields, and never below a fresh suggestion

The next block's base fee is the last entry of `eth_feeHistory`; the tip is the highest of the chain's floor,
the median reward of recent blocks and `eth_maxPriorityFeePerGas`. The max fee is `base_multiplier` × the
next base fee + the tip (a base fee rises at most 12.5 % a block, so ×2 survives ~6 full blocks), capped at
the ceiling. If even the next block's base fee + the tip floor is above the ceiling, nothing is signed:
`FeeCeilingExceeded` says what it would need, and the caller waits.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import FeeCeilingExceeded

__all__ = ["BUMP_DENOMINATOR", "BUMP_NUMERATOR", "PROFILES", "ChainProfile", "FeePolicy", "Fees", "profile"]

GWEI = 10**9
# A replacement raises both fees by at least 1/8 (12.5 %): geth wants 10 % (txpool.pricebump), others more.
BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8

Rpc = Callable[[str, Sequence[Any]], Any]


@dataclass(frozen=True)
class ChainProfile:
    """What ticketkit assumes of a chain unless told otherwise (docs/chains.md)."""

    name: str
    tip_floor: int  # wei per gas: nodes refuse (or never mine) tips below it
    confirmations: int  # blocks above a receipt before a transaction counts as final
    stuck_blocks: int  # blocks without being mined before a pending transaction is replaced
    block_seconds: float  # typical block interval (for polling)


PROFILES: dict[int, ChainProfile] = {
    1: ChainProfile(
        "Ethereum mainnet", tip_floor=GWEI // 100, confirmations=12, stuck_blocks=3, block_seconds=12
    ),
    137: ChainProfile("Polygon PoS", tip_floor=30 * GWEI, confirmations=64, stuck_blocks=5, block_seconds=2),
    80002: ChainProfile(
        "Polygon Amoy", tip_floor=30 * GWEI, confirmations=64, stuck_blocks=5, block_seconds=2
    ),
    8453: ChainProfile("Base", tip_floor=GWEI // 1000, confirmations=10, stuck_blocks=5, block_seconds=2),
    42161: ChainProfile("Arbitrum One", tip_floor=0, confirmations=20, stuck_blocks=10, block_seconds=0.25),
    31337: ChainProfile("anvil (local)", tip_floor=1, confirmations=0, stuck_blocks=3, block_seconds=0.05),
}
_UNKNOWN = ChainProfile(
    "unknown chain", tip_floor=GWEI // 100, confirmations=12, stuck_blocks=3, block_seconds=2
)


def profile(chain_id: int) -> ChainProfile:
    """The defaults for `chain_id` (an unknown chain gets mainnet-like ones)."""
    return PROFILES.get(chain_id, replace(_UNKNOWN, name=f"chain {chain_id}"))


@dataclass(frozen=True)
class Fees:
    max_fee: int  # maxFeePerGas, wei
    tip: int  # maxPriorityFeePerGas, wei

    def fields(self) -> dict[str, int]:
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


@dataclass
class FeePolicy:
    """How much to offer. `ceiling` (wei per gas, None: no ceiling) is the most the operator will ever pay."""

    tip_floor: int = 1
    ceiling: int | None = None
    base_multiplier: int = 2
    history_blocks: int = 5

    @classmethod
    def for_chain(
        cls, chain_id: int, *, max_fee_gwei: float | None = None, tip_floor_gwei: float | None = None
    ) -> FeePolicy:
        floor = profile(chain_id).tip_floor if tip_floor_gwei is None else int(tip_floor_gwei * GWEI)
        ceiling = None if max_fee_gwei is None else int(max_fee_gwei * GWEI)
        return cls(tip_floor=floor, ceiling=ceiling)

    def next_base_fee(self, rpc: Rpc) -> tuple[int, list[int]]:
        """The next block's base fee and the median tips paid in recent blocks (one eth_feeHistory call)."""
        history = rpc("eth_feeHistory", [hex(self.history_blocks), "latest", [50]])
        base = _int(history["baseFeePerGas"][-1])
        rewards = [_int(r[0]) for r in history.get("reward") or [] if r]
        return base, rewards

    def suggest(self, rpc: Rpc) -> Fees:
        """Fees for a new transaction; FeeCeilingExceeded if the next block is already too dear."""
        base, rewards = self.next_base_fee(rpc)
        tip = max(self.tip_floor, int(statistics.median(rewards)) if rewards else 0)
        if tip <= self.tip_floor:  # quiet blocks say nothing about the tip: ask the node
            try:
                tip = max(tip, _int(rpc("eth_maxPriorityFeePerGas", [])))
            except Exception:  # noqa: BLE001, S110  # not every node has it; the floor stands
                pass
        return self._capped(base, tip, base * self.base_multiplier + tip)

    def bump(self, old: Fees, rpc: Rpc) -> Fees:
        """Fees for a replacement of a transaction sent with `old`: both fields ≥ old × 9/8 (+1 wei, so a tiny
        fee still rises), and at least a fresh suggestion. FeeCeilingExceeded if the ceiling forbids it."""
        base, _ = self.next_base_fee(rpc)
        fresh = self._uncapped_suggestion(base, rpc)
        tip = max(old.tip * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1, fresh.tip)
        max_fee = max(old.max_fee * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1, fresh.max_fee, tip)
        if self.ceiling is not None and max_fee > self.ceiling:
            # A replacement must beat the old fees by the node's minimum; under the ceiling it cannot.
            raise FeeCeilingExceeded(max_fee, self.ceiling)
        return Fees(max_fee=max_fee, tip=tip)

    def raise_floor(self, tip: int) -> None:
        """The node refused `tip` as underpriced: offer at least twice as much from now on."""
        self.tip_floor = max(self.tip_floor, 2 * tip, 1)

    def _uncapped_suggestion(self, base: int, rpc: Rpc) -> Fees:
        tip = self.tip_floor
        try:
            tip = max(tip, _int(rpc("eth_maxPriorityFeePerGas", [])))
        except Exception:  # noqa: BLE001, S110  # not every node has it; the floor stands
            pass
        return Fees(max_fee=base * self.base_multiplier + tip, tip=tip)

    def _capped(self, base: int, tip: int, max_fee: int) -> Fees:
        if self.ceiling is None:
            return Fees(max_fee=max_fee, tip=tip)
        needed = base + self.tip_floor
        if needed > self.ceiling:
            raise FeeCeilingExceeded(needed, self.ceiling)
        tip = min(tip, self.ceiling - base)
        return Fees(max_fee=min(max_fee, self.ceiling), tip=tip)

    def affordable(self, fees: Fees, rpc: Rpc) -> bool:
        """Whether a transaction with `fees` can be mined in the next block (its max fee covers the base)."""
        base, _ = self.next_base_fee(rpc)
        return fees.max_fee >= base + min(fees.tip, self.tip_floor)
