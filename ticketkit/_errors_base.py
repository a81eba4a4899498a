"""The hand-written part of ticketkit's exception tree: the base classes and the organisers' hints.

Import errors from `ticketkit.errors`, never from here: it adds one generated class per contract
error (`ticketkit/contract_errors.py`, written by `python -m ticketkit._compile`). The base classes
live in this module so the generated one can derive from `ContractRevert` without an import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from eth_utils.crypto import keccak

__all__ = [
    "ROLE_NAMES",
    "ChainError",
    "ChainIdMismatch",
    "ContractRevert",
    "InvalidInput",
    "NonceError",
    "RPCUnavailable",
    "TicketkitError",
    "TransactionFailed",
    "role_name",
    "snake_case",
]


def snake_case(name: str) -> str:
    """`PriceAboveCap` -> `price_above_cap`: the stable `code` of a contract error."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class TicketkitError(Exception):
    """Root of every error ticketkit raises."""

    code: ClassVar[str] = "ticketkit_error"


class InvalidInput(TicketkitError, ValueError):
    """Bad input, refused before anything reaches the chain. `where` names the field or line."""

    code = "invalid_input"
    problems: list[tuple[str, str]]  # set only by batch.read_csv: (where, message) for every wrong line

    def __init__(self, message: str, *, where: str | None = None):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ChainError(TicketkitError):
    """The node or a transaction failed for a reason other than a contract rule."""

    code = "chain_error"


class RPCUnavailable(ChainError):
    """The JSON-RPC endpoint does not answer."""

    code = "rpc_unavailable"


class ChainIdMismatch(ChainError):
    """The node serves another chain than the one expected."""

    code = "chain_id_mismatch"

    def __init__(self, expected: int, actual: int):
        self.expected, self.actual = expected, actual
        super().__init__(f"expected chain id {expected}, the node serves {actual}")


class NonceError(ChainError):
    """A nonce was already used or is too high (another process sends from the same account?)."""

    code = "nonce_error"


class TransactionFailed(ChainError):
    """A transaction reverted without a decodable reason, ran out of gas, or was dropped."""

    code = "transaction_failed"


class FeeCeilingExceeded(ChainError):
    """The fees a transaction needs now are above the operator's ceiling (`max_fee_per_gas`): it waits.

    `needed` is the lowest max fee per gas that could be mined in the next block (its base fee plus the
    tip floor), `ceiling` the operator's setting, both in wei."""

    code = "fee_ceiling_exceeded"

    def __init__(self, needed: int, ceiling: int):
        self.needed, self.ceiling = needed, ceiling
        super().__init__(
            f"the next block needs a max fee of {needed / 1e9:.3f} gwei per gas, above the ceiling "
            f"of {ceiling / 1e9:.3f} gwei: the transaction waits until fees fall (or raise the "
            "ceiling: TICKETKIT_MAX_FEE_GWEI / GATEWAY_MAX_FEE_GWEI)"
        )


class NonceTaken(ChainError):
    """A recorded transaction's nonce was used by a transaction that is not one of its versions: it can never
    be mined (something else sends from the same account)."""

    code = "nonce_taken"


class ContractRevert(TicketkitError):
    """A contract refused: `name` is the Solidity error, `args` its decoded arguments."""

    code: ClassVar[str] = "contract_revert"
    error_name: ClassVar[str] = ""
    selector: ClassVar[str] = ""  # 0x + the error's 4-byte selector

    def __init__(self, **args: Any):
        self.args_dict = args
        for key, value in args.items():
            setattr(self, key, value)
        shown = ", ".join(
            f"{k}={'0x' + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else repr(v)}"
            for k, v in args.items()
        )
        super().__init__(f"{self.error_name or type(self).__name__}({shown})")

    @property
    def name(self) -> str:
        return self.error_name

    def explain(self, contract: str | None = None) -> str:
        """What went wrong in an organiser's words, with the command that fixes it (`contract`: the
        address the command ran against). Falls back to the error's docstring; always ends with the raw
        error, so nothing is hidden."""
        explain = _EXPLAIN.get(self.error_name)
        where = contract or "COLLECTION"
        summary = " ".join((type(self).__doc__ or "").strip().split("\n\n")[0].split())
        text = explain(self, where) if explain is not None else summary.rstrip(".")
        return f"{text} ({self})" if text else str(self)


# ---------------------------------------------------------------- explanations for organisers

ROLE_NAMES: dict[bytes, str] = {bytes(32): "DEFAULT_ADMIN_ROLE"}
for _role in ("MINTER_ROLE", "GATE_ROLE", "GATEWAY_ROLE"):
    ROLE_NAMES[keccak(text=_role)] = _role
_ROLE_USE = {
    "DEFAULT_ADMIN_ROLE": "the organiser's admin role (deploy, cancel, refund, presale, pause)",
    "MINTER_ROLE": "may airdrop tickets",
    "GATE_ROLE": "may check tickets in",
    "GATEWAY_ROLE": "may move tickets on a holder's signature",
}


def role_name(role: bytes | str) -> str:
    """DEFAULT_ADMIN_ROLE, MINTER_ROLE, GATE_ROLE, GATEWAY_ROLE, or the role's hex."""
    raw = bytes.fromhex(role.removeprefix("0x")) if isinstance(role, str) else bytes(role)
    return ROLE_NAMES.get(raw, "0x" + raw.hex())


# The hints take `Any`: each reads the fields of one generated class (contract_errors.py), which this
# module cannot import without a cycle; tests/ticketkit/test_contract_errors.py runs them.
def _missing_role(e: Any, where: str) -> str:
    name = role_name(e.neededRole)
    use = f" ({_ROLE_USE[name]})" if name in _ROLE_USE else ""
    if name == "DEFAULT_ADMIN_ROLE":
        return (
            f"{e.account} is not an admin of {where}{use}: sign with the organiser's key that deployed it "
            "(--key-env / --keystore)"
        )
    return (
        f"{e.account} lacks {name} on {where}{use}: an admin grants it with "
        f"`ticketkit grant {where} {name} {e.account}`"
    )


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


_EXPLAIN: dict[str, Callable[[Any, str], str]] = {
    "AccessControlUnauthorizedAccount": _missing_role,
    "EventNotCancelled": lambda e, w: (
        f"the event is not cancelled, so there is nothing to refund: cancel it first "
        f"with `ticketkit cancel {w}`, then rerun the refund"
    ),
    "EventIsCancelled": lambda e, w: (
        "the event is cancelled: nothing can be sold, minted or moved any more; refund "
        f"holders with `ticketkit refund {w}`"
    ),
    "EventAlreadyStarted": lambda e, w: (
        f"the event started at {_when(e.startTime)}: it can no longer be cancelled"
    ),
    "StartTimeInPast": lambda e, w: (
        f"the start time {_when(e.startTime)} has passed: set event.start in the future"
    ),
    "SoldOut": lambda e, w: (
        f"tier {e.tierId} has {e.remaining} tickets left and {e.requested} were asked: raise the "
        "tier's supply or mint fewer"
    ),
    "TierDoesNotExist": lambda e, w: (
        f"tier {e.tierId} does not exist: `ticketkit status {w}` lists the tiers"
    ),
    "EnforcedPause": lambda e, w: (
        "the collection is paused: no sales and no transfers until an admin unpauses it"
    ),
    "GiftsNotAllowed": lambda e, w: (
        f"ticket {e.tokenId} cannot be given away: this collection does not allow gifts "
        "(event file: gifts_allowed)"
    ),
    "TransfersLocked": lambda e, w: (
        f"tickets stopped moving at the transfer lock ({_when(e.transferLockTime)})"
    ),
    "NotRefundable": lambda e, w: (
        f"ticket {e.tokenId} was airdropped, not paid on chain: it has no on-chain refund"
    ),
    "ExceedsWithdrawable": lambda e, w: (
        f"only {e.available} wei can be withdrawn now ({e.amount} asked): the rest "
        "is owed to refunds or credits"
    ),
    "InvalidPresaleRule": lambda e, w: (
        f"a presale needing {e.minEvents} badges of {e.eventCount} events is "
        "impossible, or the collection has no attendance badge"
    ),
    "NotBadgeAdmin": lambda e, w: (
        f"{e.caller} is not an admin of badge {e.badge}: deploy with the badge's organiser key"
    ),
    "ListingAboveMaxPrice": lambda e, w: (
        f"ticket {e.tokenId} is now listed at {e.price} wei, above the {e.maxPrice} "
        "wei agreed: look at the listing again"
    ),
    "ImplementationWithoutCode": lambda e, w: (
        f"{e.implementation} has no contract code: deploy the implementations first (ticketkit deploy does)"
    ),
}
