"""The organiser's event details and art are kept by the gateway, byte for byte, on SQLite and PostgreSQL."""

from __future__ import annotations

from .live.test_metadata import _png


def test_details_and_art_round_trip(client, org, gw_event):
    event_id = gw_event["id"]
    assert client.get(f"/events/{event_id}/details", headers=org["headers"]).json() == {
        "event_id": event_id,
        "venue": None,
        "timezone": "UTC",
        "description": None,
    }
    body = {"venue": "Salle Pleyel", "timezone": "Europe/Paris", "description": "Doors 19:00 — ça commence"}
    assert client.put(f"/events/{event_id}/details", json=body, headers=org["headers"]).json() == body | {
        "event_id": event_id
    }
    png = _png(8, 8)
    put = client.put(
        f"/events/{event_id}/art/badge", content=png, headers=org["headers"] | {"Content-Type": "image/png"}
    )
    assert put.status_code == 200, put.text
    served = client.get(f"/art/{put.json()['sha256']}")
    assert served.status_code == 200 and served.content == png  # binary, NUL bytes included
    assert [a["scope"] for a in client.get(f"/events/{event_id}/art", headers=org["headers"]).json()] == [
        "badge"
    ]
    replaced = client.put(
        f"/events/{event_id}/art/badge",
        content=_png(4, 4),
        headers=org["headers"] | {"Content-Type": "image/png"},
    ).json()
    assert replaced["sha256"] != put.json()["sha256"]
    assert client.get(f"/art/{put.json()['sha256']}").status_code == 404  # the old one is gone
