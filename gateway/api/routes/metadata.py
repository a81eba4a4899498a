"""Token metadata for wallets and marketplaces (public, no key): ERC-721 metadata JSON and SVG art at the URI
the contracts report (`{public_url}/metadata/{chain_id}/{contract}/{token_id}`), uploaded art by digest; and
the organiser's writes: the event's public details and art (organiser API key, own events only).

Public answers carry an ETag and `Cache-Control: public` (a matching `If-None-Match` gets 304); art by digest
never changes, so it is cached for good.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Request
from fastapi.responses import Response

from ...models import EventArt, EventArtPublic, EventDetails, EventDetailsPublic, EventDetailsUpdate
from ...services import events as event_service
from ...services import metadata as service
from ..deps import OrganiserDep, RuntimeDep, SessionDep
from ..routing import OneTripRoute

router = APIRouter(tags=["metadata"], route_class=OneTripRoute)

ChainId = Annotated[int, Path(ge=1, lt=2**63)]
Contract = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]
TokenId = Annotated[int, Path(ge=0, lt=2**256)]
Digest = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$")]

METADATA_MAX_AGE = 60  # seconds: a wallet refreshes on ERC-4906 MetadataUpdate anyway
PUBLIC = {"X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"}
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _cached(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    max_age: int,
    immutable: bool = False,
    extra: dict[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    etag = etag or '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = (
        PUBLIC
        | (extra or {})
        | {"ETag": etag, "Cache-Control": f"public, max-age={max_age}" + (", immutable" if immutable else "")}
    )
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _base_url(request: Request, runtime: RuntimeDep) -> str:
    return runtime.settings.public_url or str(request.base_url).rstrip("/")


def _document(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    chain_id: int,
    contract: str,
    token_id: int,
    kind: Literal["json", "svg"],
) -> Response:
    document = service.token_document(
        session=session,
        chain=runtime.chain,
        chain_id=chain_id,
        contract=contract,
        token_id=token_id,
        base_url=_base_url(request, runtime),
        kind=kind,
        cache_seconds=runtime.settings.metadata_cache_seconds,
    )
    extra = {"Content-Security-Policy": SVG_CSP} if kind == "svg" else None
    return _cached(
        request, document.body, document.media_type, max_age=METADATA_MAX_AGE, etag=document.etag, extra=extra
    )


@router.get(
    "/metadata/{chain_id}/{contract}/{token_id}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "ERC-721 metadata JSON"}},
)
def token_metadata(
    chain_id: ChainId,
    contract: Contract,
    token_id: TokenId,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """A ticket's or badge's metadata (404 `token_not_found`: never minted, refunded, burned or revoked)."""
    return _document(request, session, runtime, chain_id, contract, token_id, "json")


@router.get(
    "/metadata/{chain_id}/{contract}/{token_id}/image.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "the token's art"}},
)
def token_image(
    chain_id: ChainId,
    contract: Contract,
    token_id: TokenId,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """The art drawn for the token: event, date, tier (a badge: marked attended)."""
    return _document(request, session, runtime, chain_id, contract, token_id, "svg")


@router.get(
    "/art/{sha256}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "uploaded art, by its SHA-256"}},
)
def art(sha256: Digest, request: Request, session: SessionDep) -> Response:
    data, content_type = service.art_bytes(session=session, sha256=sha256)
    return _cached(
        request,
        data,
        content_type,
        max_age=31_536_000,
        immutable=True,
        extra={"Content-Security-Policy": "default-src 'none'"},
    )


# ---- the organiser's writes
@router.get("/events/{event_id}/details", response_model=EventDetailsPublic)
def get_event_details(event_id: uuid.UUID, session: SessionDep, organiser: OrganiserDep) -> EventDetails:
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.event_details(session=session, event=event)


@router.put("/events/{event_id}/details", response_model=EventDetailsPublic)
def put_event_details(
    event_id: uuid.UUID, data: EventDetailsUpdate, session: SessionDep, organiser: OrganiserDep
) -> EventDetails:
    """The event's venue, time zone (IANA, for dates in metadata and the dashboard) and description."""
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return service.set_event_details(session=session, event=event, data=data)


def _art_public(request: Request, runtime: RuntimeDep, art: EventArt) -> EventArtPublic:
    return EventArtPublic.model_validate(
        art, from_attributes=True, update={"url": f"{_base_url(request, runtime)}/art/{art.sha256}"}
    )


ArtKind = Literal["ticket", "badge"]


@router.put("/events/{event_id}/art/{kind}", response_model=EventArtPublic)
def put_art(
    event_id: uuid.UUID,
    kind: ArtKind,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    organiser: OrganiserDep,
    data: Annotated[bytes, Body(media_type="image/png")] = b"",
    content_type: Annotated[str, Header()] = "",
    tier_id: Annotated[int | None, Query(ge=0, lt=2**16)] = None,
) -> EventArtPublic:
    """Upload the event's art: the body is the image (PNG, JPEG, WebP or GIF, with its Content-Type; at most
    60 KiB). `kind` ticket (every tier, or with `?tier_id=` that tier's) or badge. The metadata then links
    it instead of the drawn SVG. The same bytes again change nothing."""
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    tiers = [t.tier_id for t in event_service.event_tiers(session=session, event=event)]
    art = service.put_art(
        session=session,
        event=event,
        scope=service.art_scope(kind, tier_id, tiers),
        content_type=content_type,
        data=data,
    )
    return _art_public(request, runtime, art)


@router.get("/events/{event_id}/art", response_model=list[EventArtPublic])
def list_art(
    event_id: uuid.UUID, request: Request, session: SessionDep, runtime: RuntimeDep, organiser: OrganiserDep
) -> list[EventArtPublic]:
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    return [_art_public(request, runtime, a) for a in service.list_art(session=session, event=event)]


@router.delete("/events/{event_id}/art/{kind}", status_code=204, response_class=Response)
def delete_art(
    event_id: uuid.UUID,
    kind: ArtKind,
    session: SessionDep,
    organiser: OrganiserDep,
    tier_id: Annotated[int | None, Query(ge=0, lt=2**16)] = None,
) -> Response:
    """Back to the drawn SVG for that scope."""
    event = event_service.organiser_event(session=session, organiser=organiser, event_id=event_id)
    tiers = [t.tier_id for t in event_service.event_tiers(session=session, event=event)]
    service.delete_art(session=session, event=event, scope=service.art_scope(kind, tier_id, tiers))
    return Response(status_code=204)
