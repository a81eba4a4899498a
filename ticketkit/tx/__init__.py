"""ticketkit's one transaction pipeline, in small layers (like ethers-rs middleware):

- `fees`: the fee policy (node fees, per-chain tip floor, the operator's ceiling, replacement bumps);
- `nonces`: one nonce manager per sender;
- `pipeline`: record → sign → broadcast → track → replace → confirm (the state machine);
- `journal`: a durable store for the CLI (the gateway keeps its records in its database).
"""

from .fees import PROFILES, ChainProfile, FeePolicy, Fees, profile
from .journal import Journal
from .nonces import NonceManager
from .pipeline import FINISHED, Attempt, MemoryStore, Pipeline, Store, TxRecord, TxStatus

__all__ = [
    "FINISHED",
    "PROFILES",
    "Attempt",
    "ChainProfile",
    "FeePolicy",
    "Fees",
    "Journal",
    "MemoryStore",
    "NonceManager",
    "Pipeline",
    "Store",
    "TxRecord",
    "TxStatus",
    "profile",
]
