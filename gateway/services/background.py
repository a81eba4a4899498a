"""The gateway's background workers' loop, once: a round every `poll_seconds`, and after a failure (the node
or the database down) the next one with exponential backoff; and the thread a worker runs in for a block.
The sending worker (sending.py) and the check-in queue (checkin_queue.py) run on it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["backoff", "run_rounds", "thread"]


def backoff(poll_seconds: float, failures: int, max_backoff: float) -> float:
    """The wait after `failures` in a row: `poll_seconds` doubled per failure (at most 2**10), capped."""
    return min(poll_seconds * 2 ** min(failures, 10), max_backoff)


def run_rounds(
    stop: threading.Event,
    round_: Callable[[], object],
    *,
    what: str,
    log: logging.Logger,
    poll_seconds: float,
    max_backoff: float,
) -> None:
    """Call `round_` until `stop` is set. A failing round is logged as `what` failed (with its traceback the
    first time in a row) and the worker survives it."""
    failures = 0
    while not stop.is_set():
        try:
            round_()
        except Exception as error:  # a worker survives the node and the database blinking (logged)
            failures += 1
            if failures == 1:
                log.exception("%s failed", what)
            else:
                log.warning("%s failed (%d in a row): %s", what, failures, error)
        else:
            failures = 0
        stop.wait(backoff(poll_seconds, failures, max_backoff) if failures else poll_seconds)


@contextmanager
def thread(
    name: str, target: Callable[[threading.Event], None], *, join_timeout: float = 10
) -> Iterator[None]:
    """`target(stop)` in a daemon thread for the duration of the block; then `stop` is set and the thread
    given `join_timeout` seconds to end."""
    stop = threading.Event()
    worker = threading.Thread(target=target, args=(stop,), name=name, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=join_timeout)
