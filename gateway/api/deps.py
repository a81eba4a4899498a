"""Typed dependencies: the runtime, a DB session, the current organiser (API key), the current fan, the
current gate key (a `gate` API key scoped to one event)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, col, select

from ..core.security import hash_token
from ..errors import Unauthorized
from ..models import ApiKey, Fan, Organiser, Role
from ..runtime import Runtime
from ..services import fans, gate

_bearer = HTTPBearer(auto_error=False)
T = TypeVar("T")


async def get_runtime(request: Request) -> Runtime:  # async: no I/O, so no trip to the threadpool
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """This request's session. Made without I/O (async: no thread trip); it takes a pooled connection at its
    first statement and gives it back within the same thread trip: the endpoint's (routing.OneTripRoute closes
    it) or an authentication dependency's (`_released`). So no request holds a connection while it waits for a
    thread."""
    session = Session(runtime.engine)
    try:
        yield session
    finally:
        session.close()  # closed already at the end of the endpoint's trip: nothing to send here


def _released(session: Session, authenticate: Callable[..., T], /, **kwargs: Any) -> T:
    """Run `authenticate` on the request's session, then end its transaction so that the connection goes back
    to the pool before this thread trip ends; what was loaded stays loaded (no refresh in the endpoint)."""
    try:
        found = authenticate(session=session, **kwargs)
    except BaseException:
        session.rollback()
        raise
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    return found


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _organiser(*, session: Session, token: str) -> Organiser:
    key = session.exec(
        select(ApiKey).where(ApiKey.key_hash == hash_token(token), col(ApiKey.revoked_at).is_(None))
    ).first()
    if key is None or key.role != Role.organiser:
        raise Unauthorized("unknown or revoked organiser API key")
    organiser = session.get(Organiser, key.organiser_id)
    if organiser is None:
        raise Unauthorized("unknown or revoked organiser API key")
    return organiser


async def current_organiser(session: SessionDep, credentials: Credentials) -> Organiser:
    if credentials is None:
        raise Unauthorized("an organiser API key is required (Authorization: Bearer ...)")
    return await run_in_threadpool(_released, session, _organiser, token=credentials.credentials)


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


def fan_in_thread(
    session: Session, credentials: HTTPAuthorizationCredentials | None, runtime: Runtime
) -> Fan:
    """The calling fan, for code already in a thread trip (a route that accepts a fan token optionally)."""
    if credentials is None:
        raise Unauthorized("a fan session token is required (Authorization: Bearer ...)")
    return fans.authenticate(
        session=session, token=credentials.credentials, idle_days=runtime.settings.fan_session_idle_days
    )


async def current_fan(session: SessionDep, credentials: Credentials, runtime: RuntimeDep) -> Fan:
    if credentials is None:
        raise Unauthorized("a fan session token is required (Authorization: Bearer ...)")
    return await run_in_threadpool(
        _released,
        session,
        fans.authenticate,
        token=credentials.credentials,
        idle_days=runtime.settings.fan_session_idle_days,
    )


async def current_fan_token(request: Request, credentials: Credentials) -> fans.FanToken:
    """The calling fan's token, not yet checked: the read routes check it in their own thread trip, on the
    connection they read with (`fans.fan_of`), so even a token the cache has not seen costs no trip of its
    own."""
    if credentials is None:
        raise Unauthorized("a fan session token is required (Authorization: Bearer ...)")
    settings = request.app.state.runtime.settings
    return fans.FanToken(
        credentials.credentials, settings.fan_session_idle_days, settings.fan_auth_cache_seconds
    )


FanTokenDep = Annotated[fans.FanToken, Depends(current_fan_token)]


async def current_fan_ref(request: Request, token: FanTokenDep) -> fans.FanRef:
    """The calling fan for read-only routes that hold no connection: from this process's cache (no I/O, no
    thread) when the token was authenticated less than `fan_auth_cache_seconds` ago, else in one thread trip
    with a connection of its own."""
    ref = fans.cached_fan(token.token, token.cache_seconds)
    if ref is None:
        ref = await run_in_threadpool(
            fans.authenticate_ref,
            request.app.state.runtime.autocommit_engine(),  # one statement (rarely two), no BEGIN
            token.token,
            token.idle_days,
        )
    return ref


async def idempotency_key(idempotency_key: Annotated[str, Header(min_length=1, max_length=200)]) -> str:
    """Required where declared (the OpenAPI document says so); missing or too long: 422
    `idempotency_key_required` / `invalid_idempotency_key` (api/errors.py)."""
    return idempotency_key


OrganiserDep = Annotated[Organiser, Depends(current_organiser)]
FanDep = Annotated[Fan, Depends(current_fan)]
FanRefDep = Annotated[fans.FanRef, Depends(current_fan_ref)]
GateDep = Annotated[gate.GateKeyRef, Depends(current_gate_key)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
