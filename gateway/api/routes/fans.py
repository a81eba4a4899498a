from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from ...models import (
    Fan,
    FanCreate,
    FanCreated,
    FanExport,
    FanPublic,
    FanRecovered,
    FanSession,
    FanSessionCreated,
    FanSessionPublic,
    RecoverRequest,
    RecoveryCode,
    WalletChallengePublic,
    WalletLinkRequest,
)
from ...services import fans as service
from ...services import tickets as ticket_service
from ...services.fans import FanRef
from ..deps import FanDep, FanRefDep, RuntimeDep, SessionDep
from ..routing import OneTripRoute

router = APIRouter(prefix="/fans", tags=["fans"], route_class=OneTripRoute)


@router.post("", status_code=201, response_model=FanCreated)
def create_fan(data: FanCreate, session: SessionDep, runtime: RuntimeDep) -> FanCreated:
    """A fan account with a custodial key; its session token and recovery code are shown once."""
    fan, token, code = service.create_fan(session=session, data=data, secret=runtime.secret())
    return FanCreated(id=fan.id, address=fan.address, session_token=token, recovery_code=code)


@router.post("/recover", status_code=201, response_model=FanRecovered)
def recover(data: RecoverRequest, session: SessionDep) -> FanRecovered:
    """Every device lost, or a session expired: a new session from the account's recovery code, which is used
    up (the next one comes back, shown once). Signs every other device out unless `sign_out_everywhere` is
    false. 401 `bad_recovery_code` for an unknown account, a wrong or a malformed code alike."""
    row, token, code = service.recover(session=session, data=data)
    return FanRecovered.model_validate(
        row, from_attributes=True, update={"session_token": token, "recovery_code": code}
    )


@router.post("/me/recovery-code", status_code=201, response_model=RecoveryCode)
def new_recovery_code(fan: FanDep, session: SessionDep) -> RecoveryCode:
    """A new recovery code, shown once; the previous one stops working."""
    return RecoveryCode(recovery_code=service.new_recovery_code(session=session, fan=fan))


@router.get("/me", response_model=FanPublic)
async def me(fan: FanRefDep) -> FanPublic:
    return _public(fan)


def _public(fan: Fan | FanRef) -> FanPublic:
    return FanPublic(id=fan.id, address=fan.address, wallet_address=fan.wallet_address)


@router.post("/me/wallet/challenge", status_code=201, response_model=WalletChallengePublic)
def wallet_challenge(
    request: Request, fan: FanDep, session: SessionDep, runtime: RuntimeDep
) -> WalletChallengePublic:
    challenge = service.wallet_challenge(
        session=session,
        fan=fan,
        domain=request.url.netloc,
        uri=str(request.base_url),
        chain_id=runtime.settings.chain_id,
    )
    return WalletChallengePublic(
        nonce=challenge.nonce, message=challenge.message, expires_at=challenge.expires_at
    )


@router.post("/me/wallet", response_model=FanPublic)
def link_wallet(data: WalletLinkRequest, fan: FanDep, session: SessionDep) -> FanPublic:
    return _public(service.link_wallet(session=session, fan=fan, data=data))


@router.delete("/me/contact", status_code=204)
def erase_contact(fan: FanDep, session: SessionDep) -> None:
    service.erase_contact(session=session, fan=fan)


@router.get("/me/sessions", response_model=list[FanSessionPublic])
def list_sessions(fan: FanDep, session: SessionDep) -> list[FanSession]:
    return service.fan_sessions(session=session, fan=fan)


@router.post("/me/sessions", status_code=201, response_model=FanSessionCreated)
def create_session(fan: FanDep, session: SessionDep) -> FanSessionCreated:
    """A session token for another device, shown once."""
    row, token = service.new_session(session=session, fan=fan)
    return FanSessionCreated.model_validate(row, from_attributes=True, update={"session_token": token})


@router.delete("/me/sessions/{session_id}", response_model=FanSessionPublic)
def revoke_session(session_id: uuid.UUID, fan: FanDep, session: SessionDep) -> FanSession:
    """Sign a device out (this one too); never the last active session (409 last_session)."""
    return service.revoke_session(session=session, fan=fan, session_id=session_id)


@router.get("/me/export", response_model=FanExport)
def export(fan: FanDep, session: SessionDep) -> FanExport:
    """Everything the gateway keeps about you, as JSON (the custodial key excepted: it never leaves)."""
    return service.export(
        session=session, fan=fan, tickets=ticket_service.fan_tickets(connection=session.connection(), fan=fan)
    )
