"""Authorization matrix: every route of the app × every role, allowed or refused with the right status.

Roles: anonymous, organiser A (owns event A), organiser B (someone else's event), fan X (holds the tickets
and listings used), fan Y (someone else's ticket), the gate key of event A, the gate key of event B.

How the API refuses today (gateway/api/deps.py), and what this test holds it to:
- no credentials → 401 `unauthorized`;
- a credential of another kind → 401 (an organiser or gate key is not a session token; a session token or
  a gate key is not an organiser key), except an organiser key on a gate route → 403 `gate_key_required`;
- the right kind but not yours → 404 (`event_not_found`, `ticket_not_found`, `listing_not_found`,
  `api_key_not_found`, `session_not_found`: whether it exists is not revealed); a gate key of another event →
  403 `wrong_event`.

Every route must be declared in ROUTES; a route that is not fails the test with instructions. Each rule
also names the credential kind, checked against the route's dependencies (a route that lost its auth
dependency fails). Requests that succeed use fresh resources where they would use up shared ones.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.messages import encode_defunct

from gateway.core import codes
from tests.utils.http import bearer
from tests.utils.world import ROLES, World, idempotency, ok

from .routes import auth_kind, iter_routes, methods_of

ALL = frozenset(ROLES)
A, B, X, Y = "organiser_a", "organiser_b", "fan_x", "fan_y"
GATE_A, GATE_B = "gate_a", "gate_b"

Body = Callable[[World, dict, str], object]


@dataclass(frozen=True)
class Rule:
    kind: str  # public | organiser | fan | gate: the credential the route's dependencies ask for
    allowed: frozenset[str]
    body: Body | None = None  # the JSON body, from (world, context, role)
    setup: Callable[[World], dict] | None = None  # fresh resources: {"ticket_id": ..., "listing_id": ...}
    refused: dict[str, int] = field(default_factory=dict)  # statuses that differ from the rule of the module
    params: dict[str, str] = field(default_factory=dict)  # query parameters
    url: str | None = None  # a mount: the URL requested (GET)
    check: Callable[[str, dict], bool] | None = None  # (role, JSON answer) of an allowed role: is it right?


def expected_refusal(kind: str, role: str) -> int:
    """The status a role that is not allowed gets, by the rules in the module docstring."""
    if role == "anonymous":
        return 401
    role_kind = role.rsplit("_", 1)[0]
    if role_kind == kind:
        return 403 if kind == "gate" else 404
    if kind == "gate" and role_kind == "organiser":
        return 403
    return 401


# ---- fresh resources and bodies
def fresh_ticket(world: World) -> dict:
    """A new ticket of event A held by fan X."""
    issued = ok(
        world.client.post(
            f"/events/{world.events['a']['id']}/tickets/issue",
            headers=bearer(world.orgs["a"]["api_key"]) | idempotency(),
            json={
                "fan_id": world.fans["x"]["id"],
                "tier_id": 0,
                "quantity": 1,
                "payment_reference": f"authz-{secrets.token_hex(4)}",
            },
        )
    )
    return {"ticket_id": issued["tickets"][0]["id"]}


def fresh_gate_key(world: World) -> dict:
    """A new gate key of event A (revoked by the allowed request)."""
    key = ok(
        world.client.post(
            f"/events/{world.events['a']['id']}/gate-keys", headers=bearer(world.orgs["a"]["api_key"])
        )
    )
    return {"key_id": key["id"]}


def fresh_organiser_key(world: World) -> dict:
    """A new spare API key of organiser A (revoked by the allowed request; A's own key stays)."""
    key = ok(world.client.post("/organisers/me/api-keys", headers=bearer(world.orgs["a"]["api_key"])))
    return {"key_id": key["id"]}


def fresh_fan_session(world: World) -> dict:
    """A new spare session of fan X (revoked by the allowed request; X's own token stays)."""
    created = ok(world.client.post("/fans/me/sessions", headers=bearer(world.fans["x"]["session_token"])))
    return {"session_id": created["id"]}


def recover_body(world: World, context: dict, role: str) -> dict:
    """A fresh fan's recovery request (a code works once; recovering X or Y would sign them out)."""
    fan = ok(world.client.post("/fans", json={}))
    return {"recovery_code": fan["recovery_code"]}


def fresh_listing(world: World) -> dict:
    """A new ticket of fan X, listed for resale at price 0."""
    ticket = fresh_ticket(world)
    listing = ok(
        world.client.post(
            f"/tickets/{ticket['ticket_id']}/resale",
            json={"price_wei": 0},
            headers=bearer(world.fans["x"]["session_token"]) | idempotency(),
        )
    )
    return ticket | {"listing_id": listing["id"]}


def shown_ticket(world: World) -> dict:
    """A new ticket of fan X with a device key bound, and the code its device shows now."""
    ticket = fresh_ticket(world)
    device = codes.new_device_key()
    ok(
        world.client.post(
            f"/tickets/{ticket['ticket_id']}/device",
            headers=world.headers(X),
            json={"public_key": codes.public_key_text(device)},
        )
    )
    return ticket | {"code": codes.sign_code(device, ticket["ticket_id"])}


def collection_body(world: World, context: dict, role: str) -> dict:
    """The role's own new collection; refused roles try organiser A's."""
    return {"collection_address": context["collections"].get(role, context["collections"][A]).address}


def fresh_collections(world: World) -> dict:
    """An unregistered collection for each organiser (refused roles try organiser A's)."""
    return {"collections": {A: world.make_collection(), B: world.make_collection()}}


def presale(world: World) -> dict:
    """Once per world: organiser A's second event on event A's badge contract, where fan X attended (badge);
    a presale rule on event A's tier 0 counting it; a snapshot (X is in it)."""
    if "presale" not in world.cache:
        client, org_a = world.client, bearer(world.orgs["a"]["api_key"])
        other = world.make_collection(badge=world.collections["a"].badge())
        second = ok(client.post("/events", json={"collection_address": other.address}, headers=org_a))
        issued = ok(
            client.post(
                f"/events/{second['id']}/tickets/issue",
                headers=org_a | idempotency(),
                json={
                    "fan_id": world.fans["x"]["id"],
                    "tier_id": 0,
                    "quantity": 1,
                    "payment_reference": "presale",
                },
            )
        )
        other.check_in([issued["tickets"][0]["token_id"]], sender=world.chain.account(0))
        base = f"/events/{world.events['a']['id']}/tiers/0"
        ok(
            client.put(
                f"{base}/presale-rule",
                headers=org_a,
                json={"kind": "events", "event_ids": [second["id"]], "min_events": 1},
            ),
            200,
        )
        ok(client.post(f"{base}/presale-snapshot", headers=org_a))
        world.cache["presale"] = {"second_event": second["id"]}
    return world.cache["presale"]


def link_wallet_body(world: World, context: dict, role: str) -> dict:
    """A wallet's signature over the role's own fresh challenge (any well-formed body for other roles)."""
    wallet = Account.create()
    if role not in (X, Y):
        return {"address": wallet.address, "signature": "0x" + "11" * 65}
    challenge = ok(world.client.post("/fans/me/wallet/challenge", headers=world.headers(role)))
    signature = wallet.sign_message(encode_defunct(text=challenge["message"])).signature.to_0x_hex()
    return {"address": wallet.address, "signature": signature, "nonce": challenge["nonce"]}


def device_body(world: World, context: dict, role: str) -> dict:
    return {"public_key": codes.public_key_text(codes.new_device_key())}


def gate_answer(admits: str) -> Callable[[str, dict], bool]:
    """Gate A's key admits (verify: would admit) the code of its event; gate B's is told `wrong_event`."""

    def right(role: str, answer: dict) -> bool:
        return answer["admit"] is True if role == admits else answer["reason"] == "wrong_event"

    return right


def chain_id(world: World) -> dict:
    return {"chain_id": str(world.chain.chain_id)}


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17  # enough for the type check


def uploaded_art(kind: str) -> Callable[[World], dict]:
    """Organiser A's art for event A (`kind`: ticket or badge): its digest, for the routes that read or delete
    it."""

    def setup(world: World) -> dict:
        art = ok(
            world.client.put(
                f"/events/{world.events['a']['id']}/art/{kind}",
                content=PNG,
                headers=bearer(world.orgs["a"]["api_key"]) | {"Content-Type": "image/png"},
            ),
            200,
        )
        return {"sha256": art["sha256"], "kind": kind}

    return setup


PUBLIC_KEY = codes.public_key_text(codes.new_device_key())
PRESALE = "/events/{event_id}/tiers/{tier_id}"

# ---- the table: every route of the app. A new route? Add it here (see the module docstring for statuses).
ROUTES: dict[tuple[str, str], Rule] = {
    # documentation and the pages (HTML, JavaScript: no data in them)
    ("GET", "/openapi.json"): Rule("public", ALL),
    ("GET", "/healthz"): Rule("public", ALL),
    ("GET", "/readyz"): Rule("public", ALL),
    ("GET", "/metrics"): Rule("public", ALL),
    ("GET", "/docs"): Rule("public", ALL),
    ("GET", "/docs/oauth2-redirect"): Rule("public", ALL),
    ("GET", "/redoc"): Rule("public", ALL),
    ("GET", "/app/ticket"): Rule("public", ALL),
    ("GET", "/app/scanner"): Rule("public", ALL),
    ("GET", "/app/sw.js"): Rule("public", ALL),
    ("MOUNT", "/app/static"): Rule("public", ALL, url="/app/static/app.css"),
    # organisers and events
    ("POST", "/organisers"): Rule("public", ALL, body=lambda w, c, role: {"name": f"Organiser by {role}"}),
    ("POST", "/events"): Rule("organiser", frozenset({A, B}), setup=fresh_collections, body=collection_body),
    ("GET", "/events/{event_id}"): Rule("organiser", frozenset({A})),
    ("POST", "/events/{event_id}/tickets/issue"): Rule(
        "organiser",
        frozenset({A}),
        body=lambda w, c, role: {
            "fan_id": w.fans["y"]["id"],
            "tier_id": 0,
            "quantity": 1,
            "payment_reference": role,
        },
    ),
    ("POST", "/events/{event_id}/gate-keys"): Rule("organiser", frozenset({A})),
    ("GET", "/events/{event_id}/gate-keys"): Rule("organiser", frozenset({A})),
    ("POST", "/events/{event_id}/tiers/refresh"): Rule("organiser", frozenset({A})),
    ("DELETE", "/events/{event_id}/gate-keys/{key_id}"): Rule(
        "organiser", frozenset({A}), setup=fresh_gate_key
    ),
    ("GET", "/events/{event_id}/door"): Rule("organiser", frozenset({A})),
    ("PUT", "/events/{event_id}/door"): Rule("organiser", frozenset({A}), body=lambda w, c, role: {}),
    ("PUT", "/events/{event_id}/tickets/{ticket_id}/place"): Rule(
        "organiser", frozenset({A}), body=lambda w, c, role: {"seat": "7"}
    ),
    ("GET", "/organisers/me/api-keys"): Rule("organiser", frozenset({A, B})),
    ("POST", "/organisers/me/api-keys"): Rule("organiser", frozenset({A, B})),
    ("DELETE", "/organisers/me/api-keys/{key_id}"): Rule(
        "organiser", frozenset({A}), setup=fresh_organiser_key
    ),
    ("GET", "/events/{event_id}/gate-conflicts"): Rule("organiser", frozenset({A})),
    ("GET", "/events/{event_id}/report"): Rule("organiser", frozenset({A})),
    ("GET", "/events/{event_id}/report.csv"): Rule("organiser", frozenset({A})),
    ("GET", "/events/{event_id}/report.html"): Rule("organiser", frozenset({A})),
    ("GET", "/events/{event_id}/report/view"): Rule("public", ALL),  # a static page that asks for the key
    # token metadata (public: wallets read it) and the organiser's details and art
    ("GET", "/metadata/{chain_id}/{contract}/{token_id}"): Rule("public", ALL, setup=chain_id),
    ("GET", "/metadata/{chain_id}/{contract}/{token_id}/image.svg"): Rule("public", ALL, setup=chain_id),
    ("GET", "/art/{sha256}"): Rule("public", ALL, setup=uploaded_art("ticket")),
    ("GET", "/events/{event_id}/details"): Rule("organiser", frozenset({A})),
    ("PUT", "/events/{event_id}/details"): Rule(
        "organiser", frozenset({A}), body=lambda w, c, role: {"timezone": "Europe/Paris"}
    ),
    ("GET", "/events/{event_id}/art"): Rule("organiser", frozenset({A})),
    # the body is an image, which this table does not send: A gets past authorization to 415 (no image type);
    # uploads themselves: tests/gateway/live/test_metadata.py
    ("PUT", "/events/{event_id}/art/{kind}"): Rule(
        "organiser", frozenset(), setup=lambda w: {"kind": "ticket"}, refused={A: 415}
    ),
    ("DELETE", "/events/{event_id}/art/{kind}"): Rule(
        "organiser", frozenset({A}), setup=uploaded_art("badge")
    ),
    # presale: the organiser writes; reads are public (a fan's token, if sent, stands for the fan's addresses)
    ("PUT", PRESALE + "/presale-rule"): Rule(
        "organiser",
        frozenset({A}),
        setup=presale,
        body=lambda w, c, role: {"kind": "events", "event_ids": [c["second_event"]], "min_events": 1},
    ),
    ("GET", PRESALE + "/presale-rule"): Rule("public", ALL, setup=presale),
    ("POST", PRESALE + "/presale-snapshot"): Rule("organiser", frozenset({A}), setup=presale),
    ("GET", PRESALE + "/presale-snapshot"): Rule("public", ALL, setup=presale),
    ("GET", PRESALE + "/presale-eligibility"): Rule(
        "public", frozenset({X, Y}), setup=presale, refused={"anonymous": 422}
    ),  # address_required
    ("GET", PRESALE + "/presale-proof"): Rule(
        "public", frozenset({X}), setup=presale, refused={"anonymous": 422, Y: 404}
    ),  # Y: not_in_snapshot
    # fans
    ("POST", "/fans"): Rule("public", ALL, body=lambda w, c, role: {}),
    ("GET", "/fans/me"): Rule("fan", frozenset({X, Y})),
    ("GET", "/fans/me/tickets"): Rule("fan", frozenset({X, Y})),
    ("POST", "/fans/me/wallet/challenge"): Rule("fan", frozenset({X, Y})),
    ("POST", "/fans/me/wallet"): Rule("fan", frozenset({X, Y}), body=link_wallet_body),
    ("DELETE", "/fans/me/contact"): Rule("fan", frozenset({X, Y})),
    ("GET", "/fans/me/sessions"): Rule("fan", frozenset({X, Y})),
    ("POST", "/fans/me/sessions"): Rule("fan", frozenset({X, Y})),
    ("DELETE", "/fans/me/sessions/{session_id}"): Rule("fan", frozenset({X}), setup=fresh_fan_session),
    ("GET", "/fans/me/export"): Rule("fan", frozenset({X, Y})),
    ("POST", "/fans/recover"): Rule("public", ALL, body=recover_body),  # the code is the credential
    ("POST", "/fans/me/recovery-code"): Rule("fan", frozenset({X, Y})),
    # tickets, devices and resale
    ("GET", "/tickets/{ticket_id}"): Rule("fan", frozenset({X})),
    ("POST", "/tickets/{ticket_id}/gift"): Rule(
        "fan", frozenset({X}), setup=fresh_ticket, body=lambda w, c, role: {"to_fan": w.fans["y"]["id"]}
    ),
    ("POST", "/tickets/{ticket_id}/resale"): Rule(
        "fan", frozenset({X}), setup=fresh_ticket, body=lambda w, c, role: {"price_wei": 0}
    ),
    # binding a device: the holder's session (or a wallet signature, not sent here); Y: not yours
    ("POST", "/tickets/{ticket_id}/device"): Rule(
        "public", frozenset({X}), body=device_body, refused={Y: 404}
    ),
    ("GET", "/tickets/{ticket_id}/device-message"): Rule("public", ALL, params={"public_key": PUBLIC_KEY}),
    ("GET", "/tickets/by-token/{contract}/{token_id}"): Rule("public", ALL),
    ("POST", "/listings/{listing_id}/buy"): Rule(
        "fan",
        frozenset({Y}),
        setup=fresh_listing,
        refused={X: 409},  # X is the seller: 409 own_listing
        body=lambda w, c, role: {"payment_reference": f"buy-{role}"},
    ),
    ("DELETE", "/listings/{listing_id}"): Rule("fan", frozenset({X}), setup=fresh_listing),
    ("GET", "/events/{event_id}/listings"): Rule("public", ALL),
    # the gate: any gate key may ask; only event A's admits event A's tickets
    ("GET", "/gate/events/{event_id}"): Rule("gate", frozenset({GATE_A})),
    ("POST", "/gate/verify"): Rule(
        "gate",
        frozenset({GATE_A, GATE_B}),
        setup=shown_ticket,
        body=lambda w, c, role: {"code": c["code"]},
        check=gate_answer(GATE_A),
    ),
    ("POST", "/gate/scan"): Rule(
        "gate",
        frozenset({GATE_A, GATE_B}),
        setup=shown_ticket,
        body=lambda w, c, role: {"code": c["code"]},
        check=gate_answer(GATE_A),
    ),
    ("GET", "/gate/snapshot"): Rule("gate", frozenset({GATE_A, GATE_B})),
    ("GET", "/gate/snapshot-key"): Rule("public", ALL),
    ("POST", "/gate/sync"): Rule(
        "gate", frozenset({GATE_A, GATE_B}), body=lambda w, c, role: {"device": "door-1", "scans": []}
    ),
}


def _path(world: World, template: str, context: dict) -> str:
    values = {
        "event_id": world.events["a"]["id"],
        "ticket_id": world.tickets["x"]["id"],
        "listing_id": world.listing["id"],
        "tier_id": 0,
        "contract": world.collections["a"].address,
        "token_id": world.tickets["x"]["token_id"],
    } | context
    return template.format(**values)


REFUSAL_CODES: dict[int, Callable[[str], bool]] = {
    401: lambda error: error == "unauthorized",
    403: lambda error: error in {"gate_key_required", "wrong_event"},
    404: lambda error: error.endswith("_not_found") or error == "not_in_snapshot",
}


def _success(route) -> int:
    return getattr(route, "status_code", None) or 200


def test_every_route_is_in_the_table(world):
    routes = {(method, route.path): route for route in iter_routes(world.app) for method in methods_of(route)}
    missing = sorted(set(routes) - set(ROUTES))
    assert not missing, (
        f"routes missing from the authorization table in {__file__}: {missing}. Add each to ROUTES with the "
        "credential kind its dependencies ask for, the roles allowed and, if it needs one, a body (see the "
        "module docstring for the refusal statuses)."
    )
    stale = sorted(set(ROUTES) - set(routes))
    assert not stale, f"ROUTES names routes the app no longer has: {stale}; remove them"
    wrong_kind = {
        key: (rule.kind, auth_kind(routes[key]))
        for key, rule in ROUTES.items()
        if auth_kind(routes[key]) != rule.kind
    }
    assert not wrong_kind, f"declared kinds differ from the dependencies (declared, actual): {wrong_kind}"


def test_authorization_matrix(world):
    routes = {(method, route.path): route for route in iter_routes(world.app) for method in methods_of(route)}
    mismatches: list[str] = []
    checked = 0
    for (method, template), rule in ROUTES.items():
        if (method, template) not in routes:
            continue  # reported by test_every_route_is_in_the_table
        context = rule.setup(world) if rule.setup else {}
        path = _path(world, template, {k: v for k, v in context.items() if isinstance(v, str)})
        # refused roles first: a refusal must leave the resource for the allowed role to use
        for role in sorted(ALL - rule.allowed) + sorted(rule.allowed):
            allowed = role in rule.allowed
            expected = (
                _success(routes[(method, template)])
                if allowed
                else rule.refused.get(role, expected_refusal(rule.kind, role))
            )
            headers = world.headers(role) | idempotency()
            body = rule.body(world, context, role) if rule.body else None
            response = world.client.request(
                "GET" if method == "MOUNT" else method,
                rule.url or path,
                headers=headers,
                json=body,
                params=rule.params or None,
            )
            checked += 1
            problem = None
            if response.status_code != expected:
                problem = f"expected {expected}"
            elif allowed and rule.check and not rule.check(role, response.json()):
                problem = "an allowed answer, but not the right one"
            elif not allowed:
                error = response.json().get("error")
                if not isinstance(error, str) or not REFUSAL_CODES.get(expected, lambda _: True)(error):
                    problem = f"refusal without the right `error` code: {error!r}"
            if problem:
                mismatches.append(
                    f"{method} {template} as {role}: {response.status_code} {response.text[:200]} ({problem})"
                )
    assert not mismatches, "\n".join(mismatches)
    assert checked == len(ROLES) * len([k for k in ROUTES if k in routes])
