"""The FastAPI app: create_app(settings) migrates the database and wires routes and error handlers."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, Depends, FastAPI

from . import db
from .api import errors
from .api.admission import Admission, AdmissionMiddleware, Lane, drain_on_signals
from .api.limits import BodySizeLimit, refuse_nul_characters
from .api.routes import (
    devices,
    events,
    fans,
    gate,
    health,
    metadata,
    organisers,
    pages,
    presale,
    reports,
    tickets,
)
from .core import logs
from .core.config import Settings
from .runtime import Runtime
from .services import checkin_queue, sending


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    logs.configure(settings.log_level, settings.log_format)
    if settings.run_migrations:
        db.upgrade(settings.database_url)
    app = FastAPI(title="ticketkit gateway", lifespan=_lifespan)
    app.state.runtime = Runtime(settings=settings, engine=db.engine_for(settings))
    app.state.admission = Admission(lanes(settings), hold_seconds=settings.shed_hold_seconds)
    errors.install(app)
    app.include_router(health.router, responses=errors.RESPONSES)
    api = APIRouter(responses=errors.RESPONSES, dependencies=[Depends(refuse_nul_characters)])
    # Routes are matched in order: the gate's, called thousands of times a second at the doors, first; then
    # the fans' tickets, which every phone polls (matching 30 other routes first cost a fifth of a read).
    for module in (gate, tickets, organisers, events, fans, devices, reports, presale, metadata):
        api.include_router(module.router)
    app.include_router(api)
    pages.install(app)  # the fan and gate pages, no Node at run time
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AdmissionMiddleware, admission=app.state.admission)  # added last: the outermost
    return app


def lanes(settings: Settings) -> dict[str, Lane]:
    """The admission lanes (api/admission.py): the doors', everyone else's, and the probes'."""
    wait = settings.lane_wait_seconds
    gate = Lane(
        "gate",
        settings.lane_gate_limit,
        settings.lane_gate_queue,
        wait,
        linger_seconds=settings.lane_doors_busy_linger_seconds,
    )
    return {
        "gate": gate,
        "api": Lane(
            "api",
            settings.lane_api_limit,
            settings.lane_api_queue,
            wait,
            yields_to=gate,
            limit_when_yielding=settings.lane_api_limit_while_doors_busy,
        ),
        "probe": Lane("probe", db.PROBE_CONNECTIONS, 16, wait),
    }


def thread_tokens(settings: Settings) -> int:
    """Threads for requests: one per request the lanes may run at once (an admitted request never waits for
    one), and a few for start-up work."""
    return settings.lane_api_limit + settings.lane_gate_limit + db.PROBE_CONNECTIONS + 4


# The collector's thresholds in every gateway process: the youngest generation is collected after 7,000 net
# allocations, not Python's 700. A crowd keeps ~1,000 requests in flight in each worker; at 700 their objects
# were promoted to the oldest generation, which was then walked whole 1.3 times a second (0.1-0.2 s each at
# 2,000 connections): 110-170 us of every fan read, most of what a read cost more at 2,000 connections than at
# 100. At 7,000 (SQLite, 2,000 connections): ~75 us; the pauses are as long and as frequent as before (a
# middle generation's ~0.1 s once a second, a full ~0.4 s one every ~30 s). docs/gateway.md.
GC_THRESHOLD = (7_000, 10, 10)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The thread pool sized for the lanes, draining on SIGTERM, and the background threads that are enabled:
    the sending worker (every operator transaction), the check-in queue to the chain, the indexer."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = thread_tokens(app.state.runtime.settings)
    # A thread back from the database waits for Python's interpreter lock until the running thread gives it
    # up, at most every switch interval: 1 ms keeps the doors' latency low under a fan flood (config.py).
    sys.setswitchinterval((app.state.runtime.settings.switch_interval_ms or 1.0) / 1000)
    # The ~200,000 objects of a started app (modules, routes, models, schemas) never become garbage, yet each
    # full collection walks them all: ~100 ms of one core, measured 200-500 ms of stalled answers in a crowd.
    # Frozen, a full collection walks only what requests left behind.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    restore_signals = drain_on_signals(app.state.admission)
    try:
        with sending.running(app.state.runtime), checkin_queue.running(app.state.runtime):
            async with _indexer_lifespan(app):
                yield
    finally:
        restore_signals()


@asynccontextmanager
async def _indexer_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """With `indexer_enabled`, follow the chain in a background thread for the app's lifetime."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    if not settings.indexer_enabled:
        yield
        return
    from .indexer.indexer import Indexer  # only processes that index pay for the import

    stop = threading.Event()
    indexer = Indexer(
        runtime.engine,
        runtime.chain(),
        confirmations=settings.indexer_confirmations,
        poll_interval=settings.indexer_poll_seconds,
    )
    thread = threading.Thread(target=indexer.run_forever, args=(stop,), name="indexer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=4)  # a poll in progress ends at its RPC timeout; the thread is a daemon
