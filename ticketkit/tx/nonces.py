"""One nonce manager per sender: the next nonce is the higher of what this process handed out and what the
node counts (its pending transactions included), so another process sending from the same account moves us
on, and a transaction of ours the node dropped keeps its nonce (the pipeline sends it again, never skips
it)."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["NonceManager"]


class NonceManager:
    def __init__(self, pending_count: Callable[[str], int]):
        self._pending_count = pending_count
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, address: str, *, at_least: int = 0) -> int:
        """The next nonce of `address` (one node call), never below `at_least` (e.g. a store's highest +
        1)."""
        on_node = self._pending_count(address)
        with self._lock:
            nonce = max(self._next.get(address, 0), on_node, at_least)
            self._next[address] = nonce + 1
            return nonce

    def forget(self, address: str | None = None) -> None:
        """Read `address`'s nonce from the node again next time (all addresses if None)."""
        with self._lock:
            if address is None:
                self._next.clear()
            else:
                self._next.pop(address, None)
