"""One exception tree for ticketkit; every error has a stable `code`.

    TicketkitError
    ├── InvalidInput (also a ValueError): event files, CSVs, arguments — caught before anything is sent
    ├── ChainError: the node — RPCUnavailable, ChainIdMismatch, NonceError, TransactionFailed,
    │   FeeCeilingExceeded (a transaction waits: the fees it needs pass the operator's ceiling),
    │   NonceTaken (another transaction, not one of ours, took a recorded transaction's nonce)
    └── ContractRevert: a decoded custom error of our contracts, one class per Solidity error,
        carrying its arguments as typed attributes (e.g. PriceAboveCap.price, PriceAboveCap.cap)

The ContractRevert classes are written out in `ticketkit/contract_errors.py`, generated from the
shipped ABIs and the contracts' NatSpec by `make artifacts` (a test fails when it is stale); they are
re-exported here, so `ticketkit.errors.PriceAboveCap` is the name to use. `ContractRevert.explain()`
adds the organiser's hint (which command fixes it) kept by hand in `_errors_base.py`.

Callers match on classes or on `code`, never on message text. Messages never contain keys.
"""

from __future__ import annotations

from . import contract_errors
from ._errors_base import (
    ROLE_NAMES,
    ChainError,
    ChainIdMismatch,
    ContractRevert,
    FeeCeilingExceeded,
    InvalidInput,
    NonceError,
    NonceTaken,
    RPCUnavailable,
    TicketkitError,
    TransactionFailed,
    role_name,
    snake_case,
)
from .contract_errors import *  # the generated classes, listed in contract_errors.__all__

__all__ = [
    "ROLE_NAMES",
    "ChainError",
    "ChainIdMismatch",
    "ContractRevert",
    "FeeCeilingExceeded",
    "InvalidInput",
    "NonceError",
    "NonceTaken",
    "RPCUnavailable",
    "TicketkitError",
    "TransactionFailed",
    "error_class",
    "role_name",
]
__all__ += contract_errors.__all__

_REGISTRY: dict[str, type[ContractRevert]] = {
    name: getattr(contract_errors, name) for name in contract_errors.__all__
}


def error_class(name: str) -> type[ContractRevert]:
    """The exception class of Solidity error `name`: the generated one for every error in our ABIs;
    for a name in no ABI, a plain ContractRevert subclass made once on first use."""
    cls = _REGISTRY.get(name)
    if cls is None:
        namespace = {
            "error_name": name,
            "code": snake_case(name),
            "__module__": __name__,
            "__doc__": f"The contract reverted with {name}.",
        }
        cls = type(name, (ContractRevert,), namespace)
        _REGISTRY[name] = cls
    return cls
