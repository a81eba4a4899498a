"""The hardening tests' world: the roles the API knows, the seeded `World` (tests/hardening/conftest.py makes
it), and the calls' small helpers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .http import bearer

ROLES = ("anonymous", "organiser_a", "organiser_b", "fan_x", "fan_y", "gate_a", "gate_b")


@dataclass
class World:
    client: object
    app: object
    chain: object
    orgs: dict[str, dict]
    events: dict[str, dict]
    collections: dict[str, object]
    fans: dict[str, dict]
    tickets: dict[str, dict]  # x (held by X), x_listed (held by X, listed), y (held by Y)
    listing: dict
    gate_keys: dict[str, dict]
    make_collection: object  # () -> a new collection the operator may mint and move tickets of
    secrets_seen: set[str] = field(default_factory=set)  # every key/token the API returned
    cache: dict = field(default_factory=dict)  # what tests set up once per world

    def headers(self, role: str) -> dict[str, str]:
        token = {
            "anonymous": None,
            "organiser_a": self.orgs["a"]["api_key"],
            "organiser_b": self.orgs["b"]["api_key"],
            "fan_x": self.fans["x"]["session_token"],
            "fan_y": self.fans["y"]["session_token"],
            "gate_a": self.gate_keys["a"]["api_key"],
            "gate_b": self.gate_keys["b"]["api_key"],
        }[role]
        return bearer(token) if token else {}


def ok(response, status: int = 201) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def idempotency() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(8)}
