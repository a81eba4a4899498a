"""Binding a device key to a ticket (docs/gate.md): account holders with their session, self-custody holders
with a wallet signature over the message from GET .../device-message."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from ...models import DeviceBindRequest, DeviceKeyPublic, DeviceMessage, Fan, TicketPublic
from ...services import gate as service
from ..deps import Credentials, RuntimeDep, SessionDep, current_fan
from ..routing import OneTripRoute

router = APIRouter(tags=["devices"], route_class=OneTripRoute)


async def optional_fan(session: SessionDep, credentials: Credentials, runtime: RuntimeDep) -> Fan | None:
    """The fan of a session token if one is sent (then it must be valid), else None."""
    return None if credentials is None else await current_fan(session, credentials, runtime)


OptionalFanDep = Annotated[Fan | None, Depends(optional_fan)]
PublicKeyQuery = Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{87}$")]


@router.post("/tickets/{ticket_id}/device", status_code=201, response_model=DeviceKeyPublic)
def bind_device(
    ticket_id: uuid.UUID,
    data: DeviceBindRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    fan: OptionalFanDep,
) -> DeviceKeyPublic:
    """Bind the device's public key to the ticket (replacing the previous key): with `wallet_signature` and
    `expires_at` the on-chain owner vouches; without, the fan's session (the ticket in their account)."""
    key = service.bind_device(
        session=session,
        runtime=runtime,
        ticket_id=ticket_id,
        public_key=data.public_key,
        fan=fan,
        wallet_signature=data.wallet_signature,
        expires_at=data.expires_at,
    )
    return DeviceKeyPublic(
        ticket_id=key.ticket_id,
        public_key=key.public_key,
        holder=key.holder,
        bound_by=key.bound_by,
        created_at=key.created_at,
        window_seconds=runtime.settings.gate_window_seconds,
    )


@router.get("/tickets/{ticket_id}/device-message", response_model=DeviceMessage)
def device_message(ticket_id: uuid.UUID, public_key: PublicKeyQuery, session: SessionDep) -> DeviceMessage:
    """The text a self-custody holder's wallet signs (personal_sign) to bind `public_key`; valid 10
    minutes."""
    return service.device_message(session=session, ticket_id=ticket_id, public_key=public_key)


@router.get("/tickets/by-token/{contract}/{token_id}", response_model=TicketPublic)
def ticket_by_token(
    contract: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")],
    token_id: Annotated[int, Path(ge=0, lt=2**63)],
    session: SessionDep,
    runtime: RuntimeDep,
) -> TicketPublic:
    """A ticket's record by its token (public: what a self-custody wallet knows) - its id for the calls
    above."""
    ticket = service.ticket_by_token(
        session=session, chain_id=runtime.settings.chain_id, contract=contract, token_id=token_id
    )
    return TicketPublic.model_validate(ticket, from_attributes=True)
