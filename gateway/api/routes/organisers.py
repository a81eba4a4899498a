from __future__ import annotations

import uuid

from fastapi import APIRouter

from ...models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, OrganiserCreate, OrganiserCreated
from ...services import organisers as service
from ..deps import OrganiserDep, SessionDep
from ..routing import OneTripRoute

router = APIRouter(prefix="/organisers", tags=["organisers"], route_class=OneTripRoute)


@router.post("", status_code=201, response_model=OrganiserCreated)
def create_organiser(data: OrganiserCreate, session: SessionDep) -> OrganiserCreated:
    organiser, api_key = service.create_organiser(session=session, data=data)
    return OrganiserCreated(id=organiser.id, name=organiser.name, api_key=api_key)


@router.get("/me/api-keys", response_model=list[ApiKeyPublic])
def list_api_keys(session: SessionDep, organiser: OrganiserDep) -> list[ApiKey]:
    return service.organiser_keys(session=session, organiser=organiser)


@router.post("/me/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(
    session: SessionDep, organiser: OrganiserDep, data: ApiKeyCreate | None = None
) -> ApiKeyCreated:
    """Another organiser key, shown once: to rotate, create one, switch to it, then revoke the old."""
    key, token = service.create_api_key(
        session=session, organiser=organiser, label=data.label if data else None
    )
    return ApiKeyCreated.model_validate(key, from_attributes=True, update={"api_key": token})


@router.delete("/me/api-keys/{key_id}", response_model=ApiKeyPublic)
def revoke_api_key(key_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep) -> ApiKey:
    """Revoke one of your keys (the one in use too); never the last active one (409 last_organiser_key)."""
    return service.revoke_api_key(session=session, organiser=organiser, key_id=key_id)
