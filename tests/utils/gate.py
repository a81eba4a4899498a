"""The gate over HTTP: gate keys, device keys bound to tickets, scans."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.core import codes

from .http import bearer


def make_gate_key(client, org, event_id, label=None):
    """A new gate key for the event (POST /events/{id}/gate-keys), with its `headers`."""
    kwargs = {"json": {"label": label}} if label is not None else {}
    response = client.post(f"/events/{event_id}/gate-keys", headers=org["headers"], **kwargs)
    assert response.status_code == 201, response.text
    return response.json() | {"headers": bearer(response.json()["api_key"])}


def bind_key(client, fan, ticket_id, key=None):
    """Bind a fresh (or the given) device key to a fan's ticket with the fan's session; the private key."""
    key = key or codes.new_device_key()
    response = client.post(
        f"/tickets/{ticket_id}/device",
        json={"public_key": codes.public_key_text(key)},
        headers=fan["headers"],
    )
    assert response.status_code == 201, response.text
    return key


def post(client, gate, path, body):
    """POST /gate/{path} with the gate key `gate`: the answer's JSON (it must be a 200)."""
    response = client.post(f"/gate/{path}", json=body, headers=gate["headers"])
    assert response.status_code == 200, response.text
    return response.json()


def scan_in(client, gate: dict, tickets: Iterable[dict]) -> None:
    """Each holder binds a device key and shows its code; the gate scans it (POST /gate/scan) and admits."""
    for ticket in tickets:
        key = bind_key(client, ticket["fan"], ticket["id"])
        answer = client.post(
            "/gate/scan", headers=gate["headers"], json={"code": codes.sign_code(key, ticket["id"])}
        )
        assert answer.status_code == 200 and answer.json()["admit"] is True, answer.text


def verify(client, api_key: str, code: str) -> dict:
    """POST /gate/verify of `code` with the gate key's text: the answer's JSON (it must be a 200)."""
    response = client.post("/gate/verify", json={"code": code}, headers=bearer(api_key))
    assert response.status_code == 200, response.text
    return response.json()
