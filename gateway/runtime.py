"""What a running gateway shares between requests: settings, the database engine, the chain."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

import ticketkit as tk

from . import db
from .core.config import Settings
from .errors import ServiceUnavailable


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    _chain: tk.Chain | None = None
    _autocommit: Engine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fees: tk.tx.FeePolicy | None = None
    _fee_lock: threading.Lock = field(default_factory=threading.Lock)

    def autocommit_engine(self) -> Engine:
        """The same database, each statement committing on its own (made on first use): the gate's hot path,
        whose every write is one statement, skips BEGIN/ROLLBACK round trips and isolation-level switches."""
        with self._lock:
            if self._autocommit is None:
                self._autocommit = db.engine_for(self.settings, autocommit=True)
            return self._autocommit

    def dispose(self) -> None:
        self.engine.dispose()
        if self._autocommit is not None:
            self._autocommit.dispose()

    def chain(self) -> tk.Chain:
        """The chain connection, made on first use (RPCUnavailable/ChainIdMismatch propagate)."""
        with self._lock:
            if self._chain is None:
                settings = self.settings
                policy = tk.RpcPolicy(
                    timeout=settings.rpc_timeout_seconds,
                    retries=settings.rpc_retries,
                    deadline=settings.rpc_deadline_seconds,
                )
                chain = tk.connect(settings.rpc_endpoints, chain_id=settings.chain_id, policy=policy)
                chain.fee_policy = self.fee_policy()
                chain.confirmations = self.confirmations()
                self._chain = chain
            return self._chain

    def fee_policy(self) -> tk.tx.FeePolicy:
        """The operator's fee policy (one per runtime: a tip floor learned from the node's refusals stays)."""
        with self._fee_lock:
            if self._fees is None:
                self._fees = tk.tx.FeePolicy.for_chain(
                    self.settings.chain_id,
                    max_fee_gwei=self.settings.max_fee_gwei,
                    tip_floor_gwei=self.settings.tip_floor_gwei,
                )
            return self._fees

    def confirmations(self) -> int:
        configured = self.settings.confirmations
        return tk.tx.profile(self.settings.chain_id).confirmations if configured is None else configured

    def stuck_blocks(self) -> int:
        configured = self.settings.stuck_blocks
        return tk.tx.profile(self.settings.chain_id).stuck_blocks if configured is None else configured

    def operator(self) -> LocalAccount:
        key = self.settings.operator_key
        if key is None:
            raise ServiceUnavailable("the gateway has no operator key configured", code="no_operator_key")
        return Account.from_key(key.get_secret_value())

    def secret(self) -> str:
        return self.settings.key_encryption_secret.get_secret_value()
