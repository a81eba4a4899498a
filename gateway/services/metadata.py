"""Token metadata for wallets and marketplaces: ERC-721 metadata JSON and SVG art for tickets and badges, an
event's public details, and the organiser's uploaded art.

A contract's token URI is `metadata_base_uri(public_url, chain_id, contract)` + id (ticketkit sets it at
deploy; `setBaseURI` re-points a deployed one). The token's state comes from the chain (a burned or refunded
ticket, a revoked badge: 404), the event's name, tiers, details and art from the database. Nothing personal
leaves: no fan contact, no account, no holder address (a badge's id contains its holder's address, as on
chain; the metadata does not repeat it).

Wallets fetch metadata at volume: each rendered document (JSON or SVG, with its ETag) is kept for
`cache_seconds` in this process — a hit reads neither the chain nor the database — and an event's start time
for a minute; the routes answer with the ETag and `Cache-Control: public`. So an organiser's change of details
or art, or a check-in, shows within `cache_seconds` (5 by default).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from eth_utils import to_checksum_address
from sqlmodel import Session, col, select

import ticketkit as tk
from ticketkit import errors as chain_errors

from ..errors import NotFound, Unprocessable
from ..models import ART_TYPES, Event, EventArt, EventDetails, EventDetailsUpdate, Tier, utcnow

ART_MAX_BYTES = 60 * 1024  # under the gateway's request body limit (max_body_bytes, 64 KiB by default)
# The first bytes of each accepted image type: the declared type must match the content.
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # and "WEBP" at offset 8
}

Kind = Literal["ticket", "badge"]


@dataclass(frozen=True)
class TokenView:
    """What the metadata of one token says (public facts only)."""

    kind: Kind
    chain_id: int
    contract: str
    token_id: int
    event_id: uuid.UUID
    event_name: str
    starts_at: datetime | None
    timezone: str
    venue: str | None
    description: str | None
    tier_id: int | None = None
    tier_name: str | None = None
    checked_in: bool = False
    art: tuple[str, str] | None = None  # (sha256, content type) of the organiser's art, if any


# ---- small per-process caches of chain reads
class _TTLCache:
    def __init__(self) -> None:
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, key: Any, ttl: float, load: Any) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = load()
        if ttl > 0:
            with self._lock:
                if len(self._items) > 50_000:
                    self._items.clear()
                self._items[key] = (now + ttl, value)
        return value


_events = _TTLCache()
_documents = _TTLCache()
EVENT_FACTS_SECONDS = 60.0


def forget_documents() -> None:
    """Drop this process's rendered documents (after an organiser's change; other processes catch up within
    their `cache_seconds`)."""
    _documents.clear()


@dataclass(frozen=True)
class Document:
    """A rendered metadata document, or the refusal it got (cached alike)."""

    body: bytes
    media_type: str
    etag: str
    error: NotFound | None = None


def token_document(
    *,
    session: Session,
    chain: Callable[[], tk.Chain],
    chain_id: int,
    contract: str,
    token_id: int,
    base_url: str,
    kind: Literal["json", "svg"],
    cache_seconds: float,
) -> Document:
    """The token's metadata JSON or SVG art, from this process's cache when it is younger than `cache_seconds`
    (NotFound `token_not_found` is cached too, so unknown ids do not each cost a chain read)."""

    def build() -> Document:
        try:
            view = token_view(
                session=session, chain=chain(), chain_id=chain_id, contract=contract, token_id=token_id
            )
        except NotFound as error:
            return Document(b"", "", "", error)
        if kind == "svg":
            body, media = token_svg(view).encode(), "image/svg+xml"
        else:
            image = (
                f"{base_url}/art/{view.art[0]}"
                if view.art
                else f"{base_url}/metadata/{view.chain_id}/{view.contract}/{view.token_id}/image.svg"
            )
            body = json.dumps(
                metadata_json(view, image_url=image), ensure_ascii=False, separators=(",", ":")
            ).encode()
            media = "application/json"
        return Document(body, media, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')

    document = _documents.get((chain_id, contract.lower(), token_id, kind, base_url), cache_seconds, build)
    if document.error is not None:
        raise document.error
    return document


def _missing(kind: str, token_id: int) -> NotFound:
    return NotFound(
        f"no such {kind}: token {token_id} was never minted, or is refunded, burned or revoked",
        code="token_not_found",
    )


# ---- looking a token up
def token_view(
    *, session: Session, chain: tk.Chain, chain_id: int, contract: str, token_id: int
) -> TokenView:
    """The public facts of a ticket or badge of an event registered here; NotFound (`token_not_found`) for a
    token of an unknown contract, or one that does not exist on chain (refunded, burned, revoked)."""
    address = to_checksum_address(contract)
    if chain_id != chain.chain_id:
        raise NotFound(f"this gateway serves chain {chain.chain_id}, not {chain_id}", code="token_not_found")
    event = session.exec(
        select(Event).where(Event.chain_id == chain_id, Event.collection_address == address)
    ).first()
    if event is not None:
        return _ticket_view(session, chain, event, token_id)
    if session.exec(
        select(Event.id).where(Event.chain_id == chain_id, Event.badge_address == address)
    ).first():
        return _badge_view(session, chain, address, token_id)
    raise NotFound(
        f"{address} is not a collection or badge registered with this gateway", code="token_not_found"
    )


def _ticket_view(session: Session, chain: tk.Chain, event: Event, token_id: int) -> TokenView:
    try:
        ticket = tk.Collection(chain, event.collection_address).ticket(token_id)
    except chain_errors.TicketDoesNotExist:
        raise _missing("ticket", token_id) from None
    tier = session.exec(select(Tier).where(Tier.event_id == event.id, Tier.tier_id == ticket.tier_id)).first()
    return TokenView(
        kind="ticket",
        contract=event.collection_address,
        token_id=token_id,
        tier_id=ticket.tier_id,
        tier_name=tier.name if tier else None,
        checked_in=ticket.used,
        art=_art_for(session, event.id, (f"tier:{ticket.tier_id}", "ticket")),
        **_event_facts(session, chain, event),
    )


def _badge_view(session: Session, chain: tk.Chain, address: str, token_id: int) -> TokenView:
    if token_id >> 160 == 0 or token_id >> 224:  # not a badge id (eventId << 160 | holder, eventId a uint64)
        raise _missing("badge", token_id)
    badge = tk.Badge(chain, address)
    try:
        badge.call("locked", token_id)  # reverts BadgeDoesNotExist for a revoked or never issued badge
    except chain_errors.BadgeDoesNotExist:
        raise _missing("badge", token_id) from None
    issuer = badge.call("issuerOf", token_id >> 160)
    event = session.exec(
        select(Event).where(
            Event.chain_id == chain.chain_id,
            Event.collection_address == issuer,
            Event.badge_address == address,
        )
    ).first()
    if event is None:  # an event of this badge not registered here
        raise _missing("badge", token_id)
    return TokenView(
        kind="badge",
        contract=address,
        token_id=token_id,
        art=_art_for(session, event.id, ("badge",)),
        **_event_facts(session, chain, event),
    )


def _event_facts(session: Session, chain: tk.Chain, event: Event) -> dict[str, Any]:
    def start() -> datetime | None:
        seconds = tk.Collection(chain, event.collection_address).event_info()["start_time"]
        return datetime.fromtimestamp(seconds, UTC) if seconds else None

    details = session.get(EventDetails, event.id)
    return {
        "chain_id": event.chain_id,
        "event_id": event.id,
        "event_name": event.name or "Event",
        "venue": details.venue if details else None,
        "description": details.description if details else None,
        "timezone": details.timezone if details else "UTC",
        "starts_at": _events.get((event.chain_id, event.collection_address), EVENT_FACTS_SECONDS, start),
    }


def _art_for(session: Session, event_id: uuid.UUID, scopes: tuple[str, ...]) -> tuple[str, str] | None:
    rows = {
        scope: (sha256, content_type)
        for scope, sha256, content_type in session.exec(
            select(EventArt.scope, EventArt.sha256, EventArt.content_type).where(
                col(EventArt.event_id) == event_id, col(EventArt.scope).in_(scopes)
            )
        )
    }
    return next((rows[s] for s in scopes if s in rows), None)


# ---- the metadata JSON (the shape wallets and marketplaces read: name, description, image, attributes)
def local_date(value: datetime | None, zone: str) -> str | None:
    """`Sat 12 Jun 2027, 20:00 BST` in the event's time zone."""
    if value is None:
        return None
    local = value.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or zone)


def metadata_json(view: TokenView, *, image_url: str) -> dict[str, Any]:
    date = local_date(view.starts_at, view.timezone)
    where = ", ".join(p for p in (view.venue, date) if p)
    attributes: list[dict[str, Any]] = [{"trait_type": "Event", "value": view.event_name}]
    if view.kind == "ticket":
        tier = view.tier_name or f"Tier {view.tier_id}"
        name = f"{view.event_name} · {tier} #{view.token_id}"
        text = f"A {tier} ticket to {view.event_name}" + (f" ({where})" if where else "") + "."
        text += " Checked in." if view.checked_in else ""
        if date:
            attributes.append({"trait_type": "Date", "value": date})
        if view.venue:
            attributes.append({"trait_type": "Venue", "value": view.venue})
        attributes += [
            {"trait_type": "Tier", "value": tier},
            {"trait_type": "Checked in", "value": "Yes" if view.checked_in else "No"},
        ]
    else:
        name = f"{view.event_name} · attended"
        text = (
            f"Proof of attendance at {view.event_name}"
            + (f" ({where})" if where else "")
            + ". Soulbound: it stays with the wallet that attended."
        )
        if date:
            attributes.append({"trait_type": "Date attended", "value": date})
        if view.venue:
            attributes.append({"trait_type": "Venue", "value": view.venue})
        attributes.append({"trait_type": "Attended", "value": "Yes"})
    if view.description:
        text += "\n\n" + view.description
    return {"name": name, "description": text, "image": image_url, "attributes": attributes}


# ---- the SVG art (drawn per token; legible as a wallet thumbnail: few words, large type)
SIZE = 512
_FONT = "system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif"


def _hue(event_id: uuid.UUID) -> int:
    return int(hashlib.sha256(event_id.bytes).hexdigest()[:4], 16) % 360


def _wrap(text: str, *, max_width: float, size: int, lines: int) -> tuple[list[str], int]:
    """Break `text` into at most `lines` lines of at most `max_width` px, shrinking the type down to 60% of
    `size` first; what still does not fit ends with an ellipsis. Widths are estimated, generously (0.7 em per
    character: bold DejaVu Sans, the widest common fallback, averages about 0.65)."""
    words = text.split() or [text]
    for font in range(size, int(size * 0.6) - 1, -2):
        per_line = max(1, int(max_width / (font * 0.7)))
        out: list[str] = []
        for word in words:
            while len(word) > per_line:  # a word longer than a line is cut
                out.append(word[:per_line])
                word = word[per_line:]
            if out and len(out[-1]) + 1 + len(word) <= per_line:
                out[-1] += " " + word
            else:
                out.append(word)
        if len(out) <= lines:
            return out, font
    kept = out[:lines]
    kept[-1] = kept[-1][: max(1, per_line - 1)].rstrip() + "…"
    return kept, font


def token_svg(view: TokenView) -> str:
    hue = _hue(view.event_id)
    date = view.starts_at.astimezone(ZoneInfo(view.timezone)) if view.starts_at else None
    title, font = _wrap(view.event_name, max_width=SIZE - 96, size=56, lines=3)
    bg1, bg2 = f"hsl({hue},62%,30%)", f"hsl({(hue + 40) % 360},70%,16%)"
    uid = f"{view.kind[0]}{view.token_id:x}"  # ids unique per token: a page may inline several of these
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" width="{SIZE}" '
            f'height="{SIZE}" '
            f'role="img" aria-labelledby="t-{uid}">'
        ),
        f'<title id="t-{uid}">{escape(metadata_json(view, image_url="")["name"])}</title>',
        (
            f'<defs><linearGradient id="g-{uid}" x1="0" y1="0" x2="1" y2="1"><stop offset="0" '
            f'stop-color="{bg1}"/>'
            f'<stop offset="1" stop-color="{bg2}"/></linearGradient></defs>'
        ),
        f'<rect width="{SIZE}" height="{SIZE}" rx="40" fill="url(#g-{uid})"/>',
        f'<g font-family="{_FONT}" fill="#fff">',
    ]
    if view.kind == "ticket":
        # a ticket: TICKET and its number, the event's name large, the date, a notched stub line, the tier as
        # a pill and, once checked in, a USED stamp beside it
        parts.append(
            f'<line x1="48" y1="372" x2="{SIZE - 48}" y2="372" stroke="#fff" stroke-opacity=".5" '
            f'stroke-width="3" stroke-dasharray="10 10"/>'
        )
        parts.append(
            f'<circle cx="0" cy="372" r="26" fill="{bg2}"/><circle cx="{SIZE}" cy="372" r="26" fill="{bg2}"/>'
        )
        parts.append(
            '<text x="48" y="86" font-size="30" font-weight="600" fill-opacity=".85" '
            'letter-spacing="4">TICKET</text>'
        )
        number = f"#{view.token_id}"
        parts.append(
            f'<text class="number" x="{SIZE - 48}" y="86" font-size="30" font-weight="600" '
            f'text-anchor="end" fill-opacity=".85">{escape(number if len(number) < 9 else number[:8] + "…")}'
            "</text>"
        )
        y = 86 + 24 + font
        for line in title:
            parts.append(
                f'<text class="title" x="48" y="{y}" font-size="{font}" font-weight="800">'
                f"{escape(line)}</text>"
            )
            y += int(font * 1.12)
        if date:
            parts.append(
                f'<text class="date" x="48" y="338" font-size="34" font-weight="600">'
                f"{escape(date.strftime('%d %b %Y · %H:%M'))}</text>"
            )
        pill_max = 216 if view.checked_in else SIZE - 96
        tier, tier_font = _wrap(
            view.tier_name or f"Tier {view.tier_id}", max_width=pill_max - 40, size=34, lines=1
        )
        width = min(pill_max, int(len(tier[0]) * tier_font * 0.7) + 40)
        parts.append(
            f'<rect x="48" y="404" width="{width}" height="60" rx="30" fill="#fff"/>'
            f'<text class="tier" x="{48 + width / 2:g}" y="{434 + tier_font * 0.35:.0f}" '
            f'font-size="{tier_font}" '
            f'font-weight="700" text-anchor="middle" fill="{bg2}">{escape(tier[0])}</text>'
        )
        if view.checked_in:
            parts.append(
                f'<g transform="rotate(-6 {SIZE - 48 - 82} 434)"><rect x="{SIZE - 48 - 164}" y="404" '
                'width="164" height="60" rx="10" fill="none" stroke="#fff" stroke-width="5"/>'
                f'<text class="stamp" x="{SIZE - 48 - 82}" y="446" font-size="34" font-weight="800" '
                'text-anchor="middle" letter-spacing="2">USED</text></g>'
            )
    else:
        # a badge: a medal with a check mark, ATTENDED, the event's name, the date
        parts.append(
            f'<circle cx="{SIZE / 2:g}" cy="150" r="92" fill="#fff" fill-opacity=".14" stroke="#fff" '
            'stroke-width="6"/>'
        )
        parts.append(
            '<path d="M206 152 l34 34 l68 -72" fill="none" stroke="#fff" stroke-width="18" '
            'stroke-linecap="round" stroke-linejoin="round"/>'
        )
        parts.append(
            f'<text class="stamp" x="{SIZE / 2:g}" y="296" font-size="36" font-weight="800" '
            'text-anchor="middle" letter-spacing="6">ATTENDED</text>'
        )
        title, font = _wrap(view.event_name, max_width=SIZE - 96, size=44, lines=2)
        y = 296 + 16 + font
        for line in title:
            parts.append(
                f'<text class="title" x="{SIZE / 2:g}" y="{y}" font-size="{font}" font-weight="700" '
                f'text-anchor="middle">{escape(line)}</text>'
            )
            y += int(font * 1.12)
        if date:
            parts.append(
                f'<text class="date" x="{SIZE / 2:g}" y="468" font-size="32" font-weight="600" '
                f'text-anchor="middle" fill-opacity=".9">{escape(date.strftime("%d %b %Y"))}</text>'
            )
    parts.append("</g></svg>")
    return "".join(parts)


# ---- event details and art (the organiser's writes)
def _check_timezone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable(
            f"unknown time zone {zone!r}: use an IANA name such as 'Europe/London' or 'UTC'",
            code="invalid_timezone",
        ) from None
    if zone not in available_timezones() and zone != "UTC":
        raise Unprocessable(
            f"unknown time zone {zone!r}: use an IANA name such as 'Europe/London' or 'UTC'",
            code="invalid_timezone",
        )


def event_details(*, session: Session, event: Event) -> EventDetails:
    return session.get(EventDetails, event.id) or EventDetails(event_id=event.id)


def set_event_details(*, session: Session, event: Event, data: EventDetailsUpdate) -> EventDetails:
    """The only write path for an event's details (idempotent: a full replacement)."""
    _check_timezone(data.timezone)
    details = session.get(EventDetails, event.id) or EventDetails(event_id=event.id)
    details.venue, details.timezone, details.description = data.venue, data.timezone, data.description
    details.updated_at = utcnow()
    session.add(details)
    session.commit()
    session.refresh(details)
    forget_documents()
    return details


def art_scope(kind: str, tier_id: int | None, tiers: list[int]) -> str:
    if kind == "badge":
        return "badge"
    if tier_id is None:
        return "ticket"
    if tier_id not in tiers:
        raise NotFound(f"the event has no tier {tier_id}", code="tier_not_found")
    return f"tier:{tier_id}"


def put_art(*, session: Session, event: Event, scope: str, content_type: str, data: bytes) -> EventArt:
    """Keep the organiser's image for `scope` (replacing the one before; the same bytes again change nothing).
    Refused: a type other than PNG, JPEG, WebP or GIF (`unsupported_art_type`, 415), bytes that are not that
    type (`art_type_mismatch`, 422), empty or over ART_MAX_BYTES (`art_too_large`, 413)."""
    media = content_type.split(";")[0].strip().lower()
    if media not in ART_TYPES:
        raise Unprocessable(
            f"art must be one of {', '.join(ART_TYPES)} (got {media or 'no Content-Type'}); "
            "SVG is not accepted (it can carry scripts)",
            code="unsupported_art_type",
            status=415,
        )
    if not data:
        raise Unprocessable("the art is empty: send the image's bytes as the request body", code="art_empty")
    if len(data) > ART_MAX_BYTES:
        raise Unprocessable(
            f"art is limited to {ART_MAX_BYTES} bytes (got {len(data)}): export a smaller image "
            "(512×512 is plenty for a wallet)",
            code="art_too_large",
            status=413,
        )
    if not data.startswith(_MAGIC[media]) or (media == "image/webp" and data[8:12] != b"WEBP"):
        raise Unprocessable(f"the bytes are not a {media} image", code="art_type_mismatch")
    digest = hashlib.sha256(data).hexdigest()
    art = session.exec(select(EventArt).where(EventArt.event_id == event.id, EventArt.scope == scope)).first()
    if art is None:
        art = EventArt(
            event_id=event.id, scope=scope, content_type=media, sha256=digest, size=len(data), data=data
        )
    elif art.sha256 != digest:
        art.content_type, art.sha256, art.size, art.data, art.created_at = (
            media,
            digest,
            len(data),
            data,
            utcnow(),
        )
    session.add(art)
    session.commit()
    session.refresh(art)
    forget_documents()
    return art


def list_art(*, session: Session, event: Event) -> list[EventArt]:
    return list(session.exec(select(EventArt).where(EventArt.event_id == event.id).order_by(EventArt.scope)))


def delete_art(*, session: Session, event: Event, scope: str) -> None:
    art = session.exec(select(EventArt).where(EventArt.event_id == event.id, EventArt.scope == scope)).first()
    if art is None:
        raise NotFound(f"no art for {scope}", code="art_not_found")
    session.delete(art)
    session.commit()
    forget_documents()


def art_bytes(*, session: Session, sha256: str) -> tuple[bytes, str]:
    art = session.exec(select(EventArt).where(EventArt.sha256 == sha256.lower())).first()
    if art is None:
        raise NotFound("no such art", code="art_not_found")
    return art.data, art.content_type
