"""Token metadata and art, end to end: the URI the chain reports, fetched over HTTP from a running gateway,
checked against the common ERC-721 metadata shape, and its SVG rendered in real Chromium."""

from __future__ import annotations

import json
import re

import httpx
import jsonschema_rs
import pytest

import ticketkit as tk
from gateway.core.config import Settings
from gateway.services import metadata as service
from tests.utils.http import bearer
from tests.utils.images import tiny_png

ETH = 10**18

# The shape wallets and marketplaces read (EIP-721's metadata JSON schema + the common `attributes`).
SCHEMA = {
    "type": "object",
    "required": ["name", "description", "image", "attributes"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "image": {"type": "string", "pattern": "^https?://"},
        "attributes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["trait_type", "value"],
                "additionalProperties": False,
                "properties": {
                    "trait_type": {"type": "string", "minLength": 1},
                    "value": {"type": ["string", "number"]},
                    "display_type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": False,
}
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)


@pytest.fixture(autouse=True)
def _no_cached_documents():
    yield
    service.forget_documents()  # the cache is per process: a test that turned it on leaves nothing behind


@pytest.fixture()
def settings(database_url, chain, operator):  # no metadata cache: the test reads right after each change
    return Settings(
        database_url=database_url,
        rpc_url=chain.url,
        chain_id=chain.chain_id,
        operator_key=operator.key.to_0x_hex(),
        key_encryption_secret="test-secret-not-for-production",
        confirmations=0,
        metadata_cache_seconds=0,
        send_wait_seconds=30,
        sender_enabled=False,
    )


@pytest.fixture()
def pointed(live, chain, collection, organiser, gw_event, client, org):
    """The collection and its badge pointed at the live gateway (setBaseURI), the event's details set."""
    collection.set_base_uri(tk.metadata_base_uri(live, chain.chain_id, collection.address), sender=organiser)
    badge = collection.badge()
    badge.set_base_uri(tk.metadata_base_uri(live, chain.chain_id, badge.address), sender=organiser)
    response = client.put(
        f"/events/{gw_event['id']}/details",
        headers=org["headers"],
        json={"venue": "The Owl, Leeds", "timezone": "Europe/London"},
    )
    assert response.status_code == 200, response.text
    return collection, badge


def _attrs(meta: dict) -> dict:
    return {a["trait_type"]: a["value"] for a in meta["attributes"]}


def _fetch(uri: str) -> httpx.Response:
    return httpx.get(uri, timeout=30)


def test_ticket_and_badge_metadata_from_the_uri_the_chain_reports(
    chain, pointed, organiser, fans, new_fan, issue, client, gw_event
):
    collection, badge = pointed
    [token] = collection.buy(1, 1, sender=fans[0])  # VIP, bought on chain
    uri = collection.token_uri(token)
    assert uri.endswith(f"/metadata/{chain.chain_id}/{collection.address}/{token}")
    response = _fetch(uri)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    meta = response.json()
    VALIDATOR.validate(meta)
    assert meta["name"] == f"Gig · VIP #{token}"
    assert _attrs(meta) == {
        "Event": "Gig",
        "Date": _attrs(meta)["Date"],
        "Venue": "The Owl, Leeds",
        "Tier": "VIP",
        "Checked in": "No",
    }
    assert re.fullmatch(
        r"\w{3} \d\d \w{3} \d{4}, \d\d:\d\d (GMT|BST)", _attrs(meta)["Date"]
    )  # the event's zone
    assert meta["image"] == uri + "/image.svg"

    # Cheap to serve again: an ETag, public caching, 304 on a match.
    assert response.headers["cache-control"].startswith("public, max-age=")
    again = httpx.get(uri, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""

    # Checked in: the ticket says so, and the holder's badge has metadata too.
    collection.check_in([token], sender=organiser)
    assert _attrs(_fetch(uri).json())["Checked in"] == "Yes"
    badge_id = badge.badge_id(badge.event_id_of(collection.address), fans[0].address)
    badge_meta = _fetch(badge.token_uri(badge_id)).json()
    VALIDATOR.validate(badge_meta)
    assert badge_meta["name"] == "Gig · attended"
    assert _attrs(badge_meta)["Attended"] == "Yes" and _attrs(badge_meta)["Event"] == "Gig"
    assert "Date attended" in _attrs(badge_meta)

    # No personal data: a gateway fan with an e-mail address holds a ticket; nothing of the fan leaves.
    fan = new_fan(email="alice@example.org")
    issued = issue(fan)["tickets"][0]
    text = _fetch(collection.token_uri(issued["token_id"])).text
    for private in ("alice", "example.org", fan["id"], fan["address"], fan["address"].lower()[2:]):
        assert private.lower() not in text.lower(), private
    assert fans[0].address.lower()[2:] not in json.dumps(badge_meta).lower()  # the badge's holder either


def test_refunded_ticket_and_revoked_badge_are_404(chain, pointed, organiser, fans):
    collection, badge = pointed
    a, b = collection.buy(0, 2, sender=fans[1])
    collection.check_in([a], sender=organiser)
    badge_id = badge.badge_id(badge.event_id_of(collection.address), fans[1].address)
    badge_uri, refunded_uri = badge.token_uri(badge_id), collection.token_uri(b)
    assert _fetch(refunded_uri).status_code == 200 and _fetch(badge_uri).status_code == 200

    collection.cancel_event(sender=organiser)
    collection.claim_refund([b], sender=fans[1])
    badge.revoke(badge_id, sender=organiser)
    for uri in (refunded_uri, refunded_uri + "/image.svg", badge_uri):
        response = _fetch(uri)
        assert response.status_code == 404, uri
        assert response.json()["error"] == "token_not_found"
    # Never minted, another contract, another chain: 404 too.
    base = refunded_uri.rsplit("/", 3)[0]
    for path in (
        f"{chain.chain_id}/{collection.address}/999",
        f"{chain.chain_id}/0x{'1' * 40}/1",
        f"{chain.chain_id + 1}/{collection.address}/{a}",
    ):
        response = _fetch(f"{base}/{path}")
        assert (response.status_code, response.json()["error"]) == (404, "token_not_found"), path
    assert _fetch(f"{base}/{chain.chain_id}/not-an-address/1").status_code == 422


def test_the_art_is_legible_as_a_wallet_thumbnail(launch, chain, pointed, organiser, fans):
    collection, badge = pointed
    [token] = collection.buy(0, 1, sender=fans[2])
    collection.check_in([token], sender=organiser)
    badge_id = badge.badge_id(badge.event_id_of(collection.address), fans[2].address)
    page = launch().new_context(viewport={"width": 600, "height": 600}).new_page()
    for uri, words in [
        (collection.token_uri(token) + "/image.svg", {"Gig", "General", "USED", "TICKET"}),
        (badge.token_uri(badge_id) + "/image.svg", {"Gig", "ATTENDED"}),
    ]:
        response = page.goto(uri)
        assert response.status == 200 and response.headers["content-type"] == "image/svg+xml"
        texts = _thumbnail_texts(page, 128)
        assert words <= {t["text"] for t in texts}, texts
        title = next(t for t in texts if t["text"] == "Gig")
        assert title["height"] >= 10, title  # the event's name stays readable at 128 px


def _thumbnail_texts(page, size: int) -> list[dict]:
    """Render the SVG document at `size` px; every text's box (which must lie inside the image) and text."""
    texts = page.evaluate(
        """(size) => {
        const svg = document.documentElement;
        svg.setAttribute('width', size); svg.setAttribute('height', size);
        return [...svg.querySelectorAll('text')].map(t => {
            const r = t.getBoundingClientRect();
            return {text: t.textContent, x: r.x, y: r.y, right: r.right, bottom: r.bottom, height: r.height};
        });
    }""",
        size,
    )
    for t in texts:
        assert t["x"] >= 0 and t["y"] >= 0 and t["right"] <= size + 0.5 and t["bottom"] <= size + 0.5, t
    return texts


def test_long_names_wrap_inside_the_card(launch):
    view = service.TokenView(
        kind="ticket",
        chain_id=1,
        contract="0x" + "0" * 40,
        token_id=123456789,
        event_id=__import__("uuid").uuid4(),
        event_name="The Extraordinarily Long Named "
        "Midsummer Festival of Experimental Electronic Music and Visual Arts 2027 " * 2,
        starts_at=None,
        timezone="UTC",
        venue=None,
        description=None,
        tier_id=3,
        tier_name="Weekend camping with early entry & parking",
    )
    page = launch().new_context(viewport={"width": 600, "height": 600}).new_page()
    page.set_content(service.token_svg(view))
    page.evaluate("() => { document.documentElement.replaceWith(document.querySelector('svg')); }")
    texts = page.evaluate("""() => [...document.querySelectorAll('text')].map(t => {
        const r = t.getBoundingClientRect(); return {text: t.textContent, right: r.right, x: r.x}; })""")
    titles = [t for t in texts if t["text"] not in ("TICKET",)]
    assert any(t["text"].endswith("…") for t in titles), texts  # cut, not overflowing
    for t in texts:
        assert t["x"] >= 0 and t["right"] <= 512.5, t


# ---- the organiser's art and details
def test_organiser_art_replaces_the_drawn_svg_and_is_checked(chain, pointed, fans, client, org, gw_event):
    collection, _ = pointed
    [token] = collection.buy(1, 1, sender=fans[3])
    uri = collection.token_uri(token)
    url = f"/events/{gw_event['id']}/art/ticket"
    png = tiny_png()
    put = lambda body, ctype, **params: client.put(
        url,
        content=body,
        params=params,
        headers=org["headers"] | {"Content-Type": ctype},
    )
    for body, ctype, params, status, code in [
        (b"<svg onload='alert(1)'/>", "image/svg+xml", {}, 415, "unsupported_art_type"),
        (b"GIF89a not a png", "image/png", {}, 422, "art_type_mismatch"),
        (b"", "image/png", {}, 422, "art_empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 70_000, "image/png", {}, 413, "body_too_large"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 62_000, "image/png", {}, 413, "art_too_large"),
        (png, "image/png", {"tier_id": 9}, 404, "tier_not_found"),
    ]:
        response = put(body, ctype, **params)
        assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert client.put(url, content=png, headers={"Content-Type": "image/png"}).status_code == 401

    # VIP (tier 1) gets its own art; every other tier the event's.
    vip = put(png, "image/png", tier_id=1)
    assert vip.status_code == 200, vip.text
    assert put(png, "image/png", tier_id=1).json() == vip.json()  # the same bytes again: nothing changes
    image = _fetch(uri).json()["image"]
    assert image == vip.json()["url"] and image.endswith("/art/" + vip.json()["sha256"])
    served = _fetch(image)
    assert served.content == png and served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    [general] = collection.buy(0, 1, sender=fans[3])
    assert _fetch(collection.token_uri(general)).json()["image"].endswith("/image.svg")  # tier 0: drawn
    assert client.delete(url, params={"tier_id": 1}, headers=org["headers"]).status_code == 204
    assert _fetch(uri).json()["image"].endswith("/image.svg")


def test_event_details_are_the_organisers_and_checked(client, org, gw_event):
    url = f"/events/{gw_event['id']}/details"
    bad = client.put(url, json={"timezone": "Mars/Olympus"}, headers=org["headers"])
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_timezone")
    other = client.post("/organisers", json={"name": "Other"}).json()
    assert client.put(url, json={"timezone": "UTC"}, headers=bearer(other["api_key"])).status_code == 404
    ok = client.put(
        url,
        json={"venue": "Hall", "timezone": "Asia/Tokyo", "description": "Doors 19:00"},
        headers=org["headers"],
    )
    assert (
        ok.status_code == 200 and client.get(url, headers=org["headers"]).json()["timezone"] == "Asia/Tokyo"
    )


def test_the_cache_serves_without_the_chain_and_organiser_changes_show_at_once(
    app, chain, pointed, organiser, fans, client, org, gw_event
):
    collection, _ = pointed
    app.state.runtime.settings.metadata_cache_seconds = 60
    [token] = collection.buy(0, 1, sender=fans[4])
    uri = collection.token_uri(token)
    assert _attrs(_fetch(uri).json())["Checked in"] == "No"
    collection.check_in([token], sender=organiser)
    assert _attrs(_fetch(uri).json())["Checked in"] == "No"  # from the cache: no chain read
    response = client.put(
        f"/events/{gw_event['id']}/details",
        headers=org["headers"],
        json={"venue": "The Barn", "timezone": "Europe/London"},
    )
    assert response.status_code == 200
    fresh = _fetch(uri).json()  # an organiser's change drops the cache at once
    assert _attrs(fresh)["Venue"] == "The Barn" and _attrs(fresh)["Checked in"] == "Yes"
