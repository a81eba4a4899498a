"""The FastAPI app: create_app(settings) migrates the database and wires routes and error handlers."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from . import db
from .api import errors
from .api.limits import BodySizeLimit
from .api.routes import events, fans, gate, organisers, tickets
from .core.config import Settings
from .runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    if settings.run_migrations:
        db.upgrade(settings.database_url)
    app = FastAPI(title="ticketkit gateway")
    app.state.runtime = Runtime(settings=settings, engine=db.make_engine(settings.database_url))
    errors.install(app)
    api = APIRouter()
    for module in (organisers, events, fans, tickets, gate):
        api.include_router(module.router)
    app.include_router(api)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
