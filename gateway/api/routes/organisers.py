from __future__ import annotations

from fastapi import APIRouter

from ...models import OrganiserCreate, OrganiserCreated
from ...services import organisers as service
from ..deps import SessionDep

router = APIRouter(prefix="/organisers", tags=["organisers"])


@router.post("", status_code=201, response_model=OrganiserCreated)
def create_organiser(data: OrganiserCreate, session: SessionDep) -> OrganiserCreated:
    organiser, api_key = service.create_organiser(session=session, data=data)
    return OrganiserCreated(id=organiser.id, name=organiser.name, api_key=api_key)
