"""Is this gateway ready to serve? Each part checked within a bound: the database, the RPC nodes, the check-in
queue's lag to the chain, the indexer's lag behind the head. Read by `GET /readyz` (503 naming what fails) and
`GET /metrics` (the queue and lag gauges)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from sqlalchemy import func, text
from sqlmodel import Session, col, select

from ticketkit.rpc import redact

from ..indexer.models import IndexerCursor
from ..models import Admission, QueueState, as_utc, utcnow
from ..runtime import Runtime
from . import sending

CACHE_SECONDS = 1.0  # probes every few hundred milliseconds cost one check a second


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    value: float | None = None


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, Check]
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.ok]


def _database(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001  # any failure is "not ready", named
        return Check(False, f"the database does not answer: {type(error).__name__}")
    return Check(True, "answers")


def _node_head(url: str, timeout: float) -> int | str:
    """One node's latest block number, or why it has none."""
    try:
        answer = requests.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}, timeout=timeout
        )
        return int(answer.json()["result"], 16)
    except Exception as error:  # noqa: BLE001  # any failure is "not answering", named
        return type(error).__name__


def _rpc_head(runtime: Runtime) -> tuple[Check, int | None]:
    """The nodes' latest block number, each asked at once with a short timeout of its own (the probe must
    answer quickly): ready while one node answers (the others take over from each other, docs/chains.md); the
    detail names the nodes that do not (without their paths, where API keys are)."""
    settings = runtime.settings
    urls = settings.rpc_endpoints
    if len(urls) == 1:
        answers = [_node_head(urls[0], settings.ready_rpc_timeout_seconds)]
    else:
        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            answers = list(pool.map(lambda url: _node_head(url, settings.ready_rpc_timeout_seconds), urls))
    heads = [a for a in answers if isinstance(a, int)]
    silent = [f"{redact(url)} ({a})" for url, a in zip(urls, answers) if not isinstance(a, int)]
    if not heads:
        what = "the RPC node does not answer" if len(urls) == 1 else "no RPC node answers"
        return Check(False, f"{what}: {', '.join(silent) if len(urls) > 1 else answers[0]}"), None
    head = max(heads)
    detail = f"head {head}" + (
        f"; {len(heads)} of {len(urls)} nodes answer, not {', '.join(silent)}" if silent else ""
    )
    return Check(True, detail, float(head)), head


def checkin_lag(session: Session) -> tuple[int, float]:
    """(admissions not yet on chain, seconds the oldest of them has waited)."""
    count, oldest = session.execute(
        select(func.count(), func.min(Admission.admitted_at)).where(
            col(Admission.chain_status).in_((QueueState.queued, QueueState.sent))
        )
    ).one()
    if oldest is None:
        return count, 0.0
    return count, max(0.0, (utcnow() - as_utc(oldest)).total_seconds())


def indexer_lag(session: Session, chain_id: int, head: int | None) -> float | None:
    """Blocks between the chain's head and the indexer's cursor (None: no head, or nothing indexed yet)."""
    cursor = session.get(IndexerCursor, chain_id)
    if head is None or cursor is None:
        return None
    return float(max(0, head - cursor.block_number))


def _measure(runtime: Runtime) -> Readiness:
    settings = runtime.settings
    checks: dict[str, Check] = {}
    rpc, head = _rpc_head(runtime)
    with Session(runtime.engine) as session:
        checks["database"] = _database(session)
        checks["rpc"] = rpc
        if checks["database"].ok:
            queued, waited = checkin_lag(session)
            limit = settings.ready_max_checkin_lag_seconds
            checks["checkin_queue"] = Check(
                waited <= limit,
                f"{queued} admissions not on chain yet, the oldest for {waited:.0f} s"
                + ("" if waited <= limit else f" (more than {limit:g} s)"),
                waited,
            )
            outbox = sending.health(runtime.engine, head=head)
            checks["sending"] = Check(
                outbox.ok,
                (outbox.reason or "")
                if not outbox.ok
                else f"{outbox.pending} transactions on their way"
                + (
                    ""
                    if outbox.oldest_pending_blocks is None
                    else f", the oldest sent {outbox.oldest_pending_blocks} blocks ago"
                ),
                float(outbox.pending),
            )
            if settings.indexer_enabled:
                lag = indexer_lag(session, settings.chain_id, head)
                allowed = settings.indexer_confirmations + settings.ready_max_indexer_lag_blocks
                checks["indexer"] = Check(
                    lag is None or lag <= allowed,
                    "no chain head to compare"
                    if lag is None
                    else f"{lag:.0f} blocks behind the head (allowed {allowed})",
                    lag,
                )
    return Readiness(checks)


_cache: dict[int, Readiness] = {}
_lock = threading.Lock()


def readiness(runtime: Runtime) -> Readiness:
    """The checks, measured at most once a CACHE_SECONDS per runtime."""
    key = id(runtime)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and time.monotonic() - cached.at < CACHE_SECONDS:
            return cached
        _cache[key] = found = _measure(runtime)
        return found
