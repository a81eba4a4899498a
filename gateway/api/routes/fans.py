from __future__ import annotations

from fastapi import APIRouter

from ...models import FanCreate, FanCreated, FanPublic
from ...services import fans as service
from ..deps import FanDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/fans", tags=["fans"])


@router.post("", status_code=201, response_model=FanCreated)
def create_fan(data: FanCreate, session: SessionDep, runtime: RuntimeDep) -> FanCreated:
    fan, token = service.create_fan(session=session, data=data, secret=runtime.secret())
    return FanCreated(id=fan.id, address=fan.address, session_token=token)


@router.get("/me", response_model=FanPublic)
def me(fan: FanDep) -> FanPublic:
    return FanPublic(id=fan.id, address=fan.address)


@router.delete("/me/contact", status_code=204)
def erase_contact(fan: FanDep, session: SessionDep) -> None:
    service.erase_contact(session=session, fan=fan)
