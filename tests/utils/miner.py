"""A block producer for anvil with automine off: a block every `interval` seconds, so fee spikes, drops and
reorganisations land exactly where a test puts them. A spike sets the next block's base fee once; after it the
base fee moves as EIP-1559 says (−12.5 % per empty block), as on a real chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

from web3 import Web3
from web3.types import RPCEndpoint


class Miner:
    def __init__(self, url: str, *, interval: float = 0.2, base_fee: int | None = 10**9):
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 10}))
        self.interval = interval
        self.next_base_fee = base_fee  # set on the next block only (None: as EIP-1559 computes it)
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None
        self.rpc("evm_setAutomine", [False])

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        response = self.w3.provider.make_request(RPCEndpoint(method), params or [])
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response.get("result")

    def mine(self, blocks: int = 1) -> int:
        """Mine `blocks` blocks now at the current base fee; the new head."""
        with self.lock:
            for _ in range(blocks):
                if self.next_base_fee is not None:
                    self.rpc("anvil_setNextBlockBaseFeePerGas", [hex(self.next_base_fee)])
                    self.next_base_fee = None
                self.rpc("evm_mine")
            return int(self.rpc("eth_blockNumber"), 16)

    def head(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def base_fee(self) -> int:
        """The base fee of the next block as the node computes it."""
        history = self.rpc("eth_feeHistory", [1, "latest", []])
        return int(history["baseFeePerGas"][-1], 16)

    def spike(self, factor: float) -> None:
        """The next block's base fee × `factor` (from there it falls 12.5 % per empty block)."""
        self.next_base_fee = int(self.base_fee() * factor)

    def set_base_fee(self, wei: int) -> None:
        self.next_base_fee = wei

    def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks with empty ones (their transactions are gone, not back in the
        pool)."""
        with self.lock:
            self.rpc("anvil_reorg", [depth, []])

    def drop_all(self) -> None:
        with self.lock:
            self.rpc("anvil_dropAllTransactions")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self._paused.is_set():
                try:
                    self.mine()
                except Exception:  # noqa: BLE001, S112  # the node is being stopped
                    continue

    def start(self) -> Miner:
        self._thread = threading.Thread(target=self._run, name="miner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @contextmanager
    def paused(self) -> Iterator[Miner]:
        self._paused.set()
        with self.lock:  # a block being mined finishes first
            pass
        try:
            yield self
        finally:
            self._paused.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
