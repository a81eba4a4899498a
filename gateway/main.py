"""The FastAPI app: create_app(settings) migrates the database and wires routes and error handlers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from . import db
from .api import errors
from .api.limits import BodySizeLimit, refuse_nul_characters
from .api.routes import devices, events, fans, gate, organisers, presale, reports, tickets
from .api.routes import pages
from .core import logs
from .core.config import Settings
from .runtime import Runtime
from .services import checkin_queue, sending


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    logs.configure(settings.log_level, settings.log_format)
    if settings.run_migrations:
        db.upgrade(settings.database_url)
    app = FastAPI(title="ticketkit gateway", lifespan=_lifespan)
    app.state.runtime = Runtime(settings=settings, engine=db.make_engine(settings.database_url))
    errors.install(app)
    api = APIRouter(responses=errors.RESPONSES, dependencies=[Depends(refuse_nul_characters)])
    # Routes are matched in order: the gate's, called thousands of times a second at the doors, first.
    for module in (gate, organisers, events, fans, tickets, devices, reports, presale):
        api.include_router(module.router)
    app.include_router(api)
    pages.install(app)  # the fan and gate pages, no Node at run time
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The background threads that are enabled: the sending worker (every operator transaction), the check-in
    queue to the chain, the indexer."""
    with sending.running(app.state.runtime), checkin_queue.running(app.state.runtime):
        async with _indexer_lifespan(app):
            yield


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
    indexer = Indexer(runtime.engine, runtime.chain(), confirmations=settings.indexer_confirmations,
                      poll_interval=settings.indexer_poll_seconds)
    thread = threading.Thread(target=indexer.run_forever, args=(stop,), name="indexer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
