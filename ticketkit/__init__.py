"""ticketkit: blockchain-backed event tickets and proof of attendance.

import ticketkit as tk
with tk.local_chain() as chain:
    organiser = chain.account(0)
    platform = tk.deploy_platform(chain, organiser)
    badge = platform.create_badge("My badges", "MYB", salt="badges", sender=organiser)
    event = platform.create_collection(tk.EventConfig(...), [tk.TierConfig(...)], salt="gig-1",
                                       badge=badge, sender=organiser)
    [token] = event.buy(0, 1, sender=chain.account(1))
"""

from . import errors
from .chain import ANVIL_KEYS, Chain, connect, local_chain
from .contracts import (
    SKIP_ALREADY_USED,
    SKIP_NOT_FOUND,
    Badge,
    Collection,
    EventConfig,
    Platform,
    Ticket,
    Tier,
    TierConfig,
    call_data,
    deploy_platform,
    metadata_base_uri,
)
from .errors import (
    ChainError,
    ChainIdMismatch,
    ContractRevert,
    InvalidInput,
    NonceError,
    RPCUnavailable,
    TicketkitError,
    TransactionFailed,
)
from .rpc import RpcPolicy

__all__ = [
    "ANVIL_KEYS",
    "SKIP_ALREADY_USED",
    "SKIP_NOT_FOUND",
    "Badge",
    "Chain",
    "ChainError",
    "ChainIdMismatch",
    "Collection",
    "ContractRevert",
    "EventConfig",
    "InvalidInput",
    "NonceError",
    "Platform",
    "RPCUnavailable",
    "RpcPolicy",
    "Ticket",
    "TicketkitError",
    "Tier",
    "TierConfig",
    "TransactionFailed",
    "call_data",
    "connect",
    "deploy_platform",
    "errors",
    "local_chain",
    "metadata_base_uri",
]

# Organiser tools: event files, CSV airdrops and refunds, keys (the CLI is ticketkit.cli).
from . import presale  # trusted-attendee presale: badge eligibility at a block, Merkle snapshots
from .batch import MintReport, Recipient, RefundReport, mint_recipients, read_recipients, refund_all
from .event_file import Deployment, EventSpec, deploy_event, load_event_file
from .keys import Signer, load_signer

__all__ += [
    "Deployment",
    "EventSpec",
    "MintReport",
    "Recipient",
    "RefundReport",
    "Signer",
    "deploy_event",
    "load_event_file",
    "load_signer",
    "mint_recipients",
    "read_recipients",
    "refund_all",
]
__all__ += ["presale"]
from . import tx  # the one transaction pipeline: fees, nonces, replacement, finality

__all__ += ["tx"]
