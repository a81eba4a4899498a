"""One exception tree for ticketkit; every error has a stable `code`.

    TicketkitError
    ├── InvalidInput (also a ValueError): event files, CSVs, arguments — caught before anything is sent
    ├── ChainError: the node — RPCUnavailable, ChainIdMismatch, NonceError, TransactionFailed,
    │   FeeCeilingExceeded (a transaction waits: the fees it needs pass the operator's ceiling),
    │   NonceTaken (another transaction, not one of ours, took a recorded transaction's nonce)
    └── ContractRevert: a decoded custom error of our contracts, one class per Solidity error,
        carrying its arguments as attributes (e.g. PriceAboveCap.price, PriceAboveCap.cap)

Callers match on classes or on `code`, never on message text. Messages never contain keys.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

__all__ = [
    "TicketkitError", "InvalidInput", "ChainError", "RPCUnavailable", "ChainIdMismatch", "NonceError",
    "TransactionFailed", "FeeCeilingExceeded", "NonceTaken", "ContractRevert", "error_class",
]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class TicketkitError(Exception):
    """Root of every error ticketkit raises."""

    code: ClassVar[str] = "ticketkit_error"


class InvalidInput(TicketkitError, ValueError):
    """Bad input, refused before anything reaches the chain. `where` names the field or line."""

    code = "invalid_input"

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
        super().__init__(f"the next block needs a max fee of {needed / 1e9:.3f} gwei per gas, above the ceiling "
                         f"of {ceiling / 1e9:.3f} gwei: the transaction waits until fees fall (or raise the "
                         "ceiling: TICKETKIT_MAX_FEE_GWEI / GATEWAY_MAX_FEE_GWEI)")


class NonceTaken(ChainError):
    """A recorded transaction's nonce was used by a transaction that is not one of its versions: it can never
    be mined (something else sends from the same account)."""

    code = "nonce_taken"


class ContractRevert(TicketkitError):
    """A contract refused: `name` is the Solidity error, `args` its decoded arguments."""

    code: ClassVar[str] = "contract_revert"
    error_name: ClassVar[str] = ""

    def __init__(self, **args: Any):
        self.args_dict = args
        for key, value in args.items():
            setattr(self, key, value)
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
        super().__init__(f"{self.error_name or type(self).__name__}({shown})")

    @property
    def name(self) -> str:
        return self.error_name


_REGISTRY: dict[str, type[ContractRevert]] = {}


def error_class(name: str) -> type[ContractRevert]:
    """The exception class for Solidity error `name` (made on first use for library errors)."""
    cls = _REGISTRY.get(name)
    if cls is None:
        cls = type(name, (ContractRevert,), {"error_name": name, "code": _snake(name),
                                             "__doc__": f"The contract reverted with {name}."})
        _REGISTRY[name] = cls
    return cls


def _declare(name: str, doc: str) -> type[ContractRevert]:
    cls = error_class(name)
    cls.__doc__ = doc
    cls.__module__ = __name__
    globals()[name] = cls
    __all__.append(name)
    return cls


# Our contracts' errors, declared so they can be imported and matched by name.
for _name, _doc in {
    "ResaleCapBelowFaceValue": "The resale cap must be at least 100% of face value.",
    "ZeroSupply": "A tier needs a supply above zero.",
    "InvalidSaleWindow": "The sale window ends before it starts.",
    "TooManyTiers": "A collection has at most 65,536 tiers.",
    "TierDoesNotExist": "No tier with this id.",
    "FaceValueLocked": "A tier's face value cannot change once a ticket of it exists.",
    "SupplyBelowMinted": "A tier's supply cannot drop below what is minted.",
    "InvalidPresaleRule": "A presale rule needs k <= number of events, and a badge contract.",
    "ZeroQuantity": "Buy or mint at least one ticket.",
    "SaleNotOpen": "The tier's sale window is not open.",
    "SoldOut": "Not enough tickets left in the tier.",
    "WalletCapExceeded": "This wallet would exceed the tier's per-wallet cap.",
    "InsufficientPayment": "Less than the price was sent.",
    "PresaleNotEligible": "The presale is on and the buyer is not eligible.",
    "TicketDoesNotExist": "No such ticket (never minted, or refunded).",
    "NotTicketOwner": "The caller does not hold this ticket.",
    "TicketAlreadyUsed": "The ticket is checked in: it never moves or sells again.",
    "PriceAboveCap": "The price exceeds face value x the resale cap.",
    "NotListed": "The ticket is not listed for resale (by the caller).",
    "TransferNotAllowed": "Tickets move only through the market, the gateway, or as allowed gifts.",
    "TransfersLocked": "The transfer lock time has passed.",
    "ApprovalsDisabled": "Tickets cannot be approved to third parties.",
    "UnexpectedPayment": "ETH sent with a gift would be stranded: send none.",
    "AuthorizationExpired": "The holder's transfer authorization has expired.",
    "InvalidHolderSignature": "The transfer authorization is not signed by the holder.",
    "EventIsCancelled": "The event is cancelled.",
    "EventNotCancelled": "Refunds open only once the event is cancelled.",
    "EventAlreadyStarted": "An event cannot be cancelled after it starts.",
    "NotRefundable": "The ticket was not paid on chain, so it has no on-chain refund.",
    "NothingToWithdraw": "Nothing is credited to this account.",
    "ExceedsWithdrawable": "More than the withdrawable proceeds was asked for.",
    "BadgeIsSoulbound": "Attendance badges never move and cannot be approved.",
    "NotAnIssuer": "Only the badge's registered collections mint badges.",
    "IssuerAlreadyRegistered": "This collection is already an event of the badge.",
    "BadgeDoesNotExist": "No such badge.",
    "NotBadgeAdmin": "A collection can only use a badge contract its organiser administers.",
    "AccessControlUnauthorizedAccount": "The sender lacks the role this needs.",
    "EnforcedPause": "Sales are paused.",
}.items():
    _declare(_name, _doc)
