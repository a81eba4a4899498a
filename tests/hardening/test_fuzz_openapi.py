"""The OpenAPI document fuzzed with schemathesis: every operation, positive and negative data, with valid
credentials for the operation's role and real ids and values mixed into path parameters and bodies, so the
cases reach past authentication and 404s into the services and the chain.

For every response: never a 5xx (nor an exception out of the app); every 4xx is JSON with an `error` code;
the response conforms to the document (schema and content type of its status); invalid data is refused
with a 4xx (schemathesis's `negative_data_rejection`). After the run, no error body holds a secret: an API
key or session token the API handed out, a fan's custodial key (decrypted from the database), the
operator's key or the key-encryption secret.

Bounded and repeatable: HARDENING_FUZZ_EXAMPLES (default 10) examples per operation with valid data, half
as many with invalid data (FastAPI's validation answers those alike), derandomized (the same cases every
run), on SQLite and on PostgreSQL. `make soak` runs it with 200.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi import checks as openapi_checks

from gateway.core import codes
from tests.utils.http import bearer
from tests.utils.leaks import custodial_keys, find_leaks, tokens_in
from tests.utils.world import idempotency, ok

from .routes import auth_kind, reads_credentials, route_index

EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "10"))
ROLES_OF_KIND = {
    "organiser": ["organiser_a", "organiser_b"],
    "fan": ["fan_x", "fan_y"],
    "gate": ["gate_a", "gate_b"],
    "public": ["anonymous"],
}

load_all_checks()
# A body over the size limit is refused with 413 `body_too_large`: a rejection like the others.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
)
CHECKS = [
    not_a_server_error,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


def _error_body_problem(response) -> str | None:
    """None if a 4xx body is JSON with a non-empty string `error` code, else what is wrong."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return f"not JSON: {response.content[:200]!r}"
    if not isinstance(body, dict) or not isinstance(body.get("error"), str) or not body["error"]:
        return f"no `error` code: {body!r}"[:300]
    return None


def _describe(error: BaseException) -> str:
    """The error and, for a group (schemathesis failures, Hypothesis's Flaky), every error inside it."""
    text = f"{type(error).__name__}: {error}"
    for inner in getattr(error, "exceptions", ()):
        text += "\n  " + _describe(inner).replace("\n", "\n  ")
    return text


def _values(world) -> dict[str, list]:
    """Real ids and values for path parameters, query parameters and body fields."""
    fans = [f["id"] for f in world.fans.values()]
    return {
        "event_id": [e["id"] for e in world.events.values()],
        "fan_id": fans,
        "to_fan": fans,
        "collection_address": [c.address for c in world.collections.values()],
        "contract": [c.address for c in world.collections.values()],
        "token_id": [t["token_id"] for t in world.tickets.values()],
        "tier_id": [0, 1],
        "quantity": [1, 2],
        "address": [f["address"] for f in world.fans.values()],
        "public_key": [codes.public_key_text(codes.new_device_key())],
    }


def _fresh(world) -> dict[str, list]:
    """A new ticket of fan X with a bound device key (and its current gate code), and a new listing of
    another, so an operation fuzzed late still finds something to act on (earlier ones gift, sell, scan)."""
    client = world.client
    org_a, fan_x = bearer(world.orgs["a"]["api_key"]), bearer(world.fans["x"]["session_token"])
    issued = ok(
        client.post(
            f"/events/{world.events['a']['id']}/tickets/issue",
            headers=org_a | idempotency(),
            json={
                "fan_id": world.fans["x"]["id"],
                "tier_id": 0,
                "quantity": 2,
                "payment_reference": "fuzz-seed",
            },
        )
    )
    shown, listed = issued["tickets"]
    device = codes.new_device_key()
    ok(
        client.post(
            f"/tickets/{shown['id']}/device",
            json={"public_key": codes.public_key_text(device)},
            headers=fan_x,
        )
    )
    cap = world.collections["a"].resale_cap_of(listed["token_id"])
    listing = ok(
        client.post(
            f"/tickets/{listed['id']}/resale", json={"price_wei": cap // 2}, headers=fan_x | idempotency()
        )
    )
    return {
        "ticket_id": [shown["id"], listed["id"], *(t["id"] for t in world.tickets.values())],
        "listing_id": [listing["id"], world.listing["id"]],
        "price_wei": [0, cap, cap + 1],
        "code": [codes.sign_code(device, shown["id"])],
    }


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_openapi_fuzz(world, database_url):
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app, config=CONFIG)
    routes = route_index(world.app)
    counter = itertools.count()
    failures: list[str] = []
    statuses: dict[str, set] = {}
    error_bodies: list[str] = []
    handed_out: set[str] = set(world.secrets_seen)
    values, fresh = _values(world), None

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        route = routes[(operation.method.upper(), operation.path)]
        roles = ROLES_OF_KIND[auth_kind(route)]
        if roles == ["anonymous"] and reads_credentials(route):  # public, with an optional session token
            roles = ["anonymous", "fan_x", "fan_y"]
        takes_key = "idempotency-key" in {p.name.lower() for p in operation.iter_parameters()}
        if fresh is None or any(p in operation.path for p in ("{ticket_id}", "{listing_id}", "/gate/")):
            fresh = _fresh(world)
        real = values | fresh
        modes = ((GenerationMode.POSITIVE, EXAMPLES), (GenerationMode.NEGATIVE, (EXAMPLES + 1) // 2))
        for mode, examples in modes:

            @settings(
                max_examples=examples,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def fuzz(real, roles, takes_key, label, case, data):
                # (The loop's values come in as arguments, bound for this operation.)
                # Valid credentials and real values, except where schemathesis made a component invalid.
                negative = case.meta.is_negative_at if case.meta is not None else (lambda _: False)
                if not negative(ParameterLocation.PATH):
                    for name in list(case.path_parameters or {}):
                        if name in real and data.draw(st.booleans(), label=f"real {name}"):
                            case.path_parameters[name] = data.draw(st.sampled_from(real[name]))
                if case.query and not negative(ParameterLocation.QUERY):
                    for name in list(case.query):
                        if name in real and data.draw(st.booleans(), label=f"real {name}"):
                            case.query[name] = data.draw(st.sampled_from(real[name]))
                if isinstance(case.body, dict) and not negative(ParameterLocation.BODY):
                    for name in list(case.body):
                        if name in real and data.draw(st.booleans(), label=f"real {name}"):
                            case.body[name] = data.draw(st.sampled_from(real[name]))
                headers: dict[str, str] = {}
                if not negative(ParameterLocation.HEADER):
                    headers |= world.headers(data.draw(st.sampled_from(roles), label="role"))
                    if takes_key and data.draw(st.booleans(), label="fresh Idempotency-Key"):
                        headers["Idempotency-Key"] = f"fuzz-{next(counter)}"
                response = case.call(headers=headers)
                refused = 400 <= response.status_code < 500
                problem = _error_body_problem(response) if refused else None
                code = json.loads(response.content)["error"] if refused and not problem else ""
                statuses.setdefault(label, set()).add(f"{response.status_code} {code}".strip())
                if response.status_code >= 400:
                    error_bodies.append(response.text)
                else:
                    try:
                        handed_out.update(tokens_in(json.loads(response.content)))
                    except ValueError:
                        pass
                if problem:
                    raise AssertionError(f"{response.status_code}: {problem}")
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                fuzz(real=real, roles=roles, takes_key=takes_key, label=label)
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters or body)
                assert mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()), label
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001  # one report for every operation
                failures.append(f"--- {label} ({mode.value}):\n{_describe(error)[:4000]}")

    print("\n".join(f"{label}: {sorted(seen)}" for label, seen in sorted(statuses.items())))
    assert not failures, "\n".join(failures)
    config = world.app.state.runtime.settings
    secret = config.key_encryption_secret.get_secret_value()
    secrets = {
        *handed_out,
        *custodial_keys(database_url, secret).values(),
        config.operator_key.get_secret_value(),
        secret,
    }
    assert len(handed_out) > len(world.secrets_seen)  # the fuzz made organisers, fans, gate keys of its own
    leaks = find_leaks("\n".join(error_bodies), secrets)
    assert not leaks, f"error bodies carry secrets: {leaks}"
