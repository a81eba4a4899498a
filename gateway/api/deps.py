"""Typed dependencies: the runtime, a DB session, the current organiser (API key), the current fan, the
current gate key (a `gate` API key scoped to one event)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, select

from ..core.security import hash_token
from ..errors import Unauthorized, Unprocessable
from ..models import ApiKey, Fan, Organiser
from ..runtime import Runtime
from ..services import fans, gate

_bearer = HTTPBearer(auto_error=False)


async def get_runtime(request: Request) -> Runtime:  # async: no I/O, so no trip to the threadpool
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with Session(runtime.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def current_organiser(session: SessionDep, credentials: Credentials) -> Organiser:
    if credentials is None:
        raise Unauthorized("an organiser API key is required (Authorization: Bearer ...)")
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(credentials.credentials),
                                            ApiKey.revoked_at.is_(None))).first()  # type: ignore[union-attr]
    if key is None or key.role != "organiser":
        raise Unauthorized("unknown or revoked organiser API key")
    organiser = session.get(Organiser, key.organiser_id)
    if organiser is None:
        raise Unauthorized("unknown or revoked organiser API key")
    return organiser


async def current_gate_key(request: Request, credentials: Credentials) -> gate.GateKeyRef:
    """The calling gate's key (401 unknown or revoked, 403 `gate_key_required` for any other kind of key).

    Gates call thousands of times a second: a key authenticated less than `gate_cache_seconds` ago comes
    from this process's cache (no I/O), else from the database in the threadpool.
    """
    if credentials is None:
        raise Unauthorized("a gate API key is required (Authorization: Bearer ...)")
    runtime: Runtime = request.app.state.runtime
    key = gate.cached_gate_key(credentials.credentials, runtime.settings.gate_cache_seconds)
    if key is None:
        key = await run_in_threadpool(gate.authenticate_gate_key, runtime.engine, credentials.credentials)
    return key


def current_fan(session: SessionDep, credentials: Credentials, runtime: RuntimeDep) -> Fan:
    if credentials is None:
        raise Unauthorized("a fan session token is required (Authorization: Bearer ...)")
    return fans.authenticate(session=session, token=credentials.credentials,
                             idle_days=runtime.settings.fan_session_idle_days)


def idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str:
    if not idempotency_key:
        raise Unprocessable("the Idempotency-Key header is required", code="idempotency_key_required")
    if len(idempotency_key) > 200:
        raise Unprocessable("the Idempotency-Key header is at most 200 characters", code="invalid_idempotency_key")
    return idempotency_key


OrganiserDep = Annotated[Organiser, Depends(current_organiser)]
FanDep = Annotated[Fan, Depends(current_fan)]
GateDep = Annotated[gate.GateKeyRef, Depends(current_gate_key)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
