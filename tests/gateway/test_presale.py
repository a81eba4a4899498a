"""The trusted-attendee presale through the HTTP API, on a real anvil (SQLite and PostgreSQL): rules (k of a
list, k of the last n), eligibility with its explanation, snapshots at a block, proofs, and buying with one
after the organiser publishes the root with the CLI command the gateway gives."""

from __future__ import annotations

import json
import shlex
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from eth_account.messages import encode_defunct
from sqlmodel import SQLModel
from typer.testing import CliRunner

import ticketkit as tk
from tests.utils.http import bearer
from ticketkit import errors
from ticketkit.cli import app as cli_app

GENERAL = 0
DAY = 86400


def _url(event_id, what, tier=GENERAL):
    return f"/events/{event_id}/tiers/{tier}/presale-{what}"


def _register(client, org, collection, name):
    response = client.post(
        "/events", json={"collection_address": collection.address, "name": name}, headers=org["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _error(response, status, code):
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.text
    return response.json()


@pytest.fixture()
def world(client, org, chain, platform, organiser, fans, make_event):
    """On one badge contract, three earlier events (starting in 1, 2 and 3 days) and this one (in 30 days),
    all registered by `org`. Badges by the batch check-in: alice attended all three earlier events, bob the
    first two, carol the first, dave the last two."""
    alice, bob, carol, dave = fans[:4]
    badge = platform.create_badge("Badges", "BDG", salt="gw-presale", sender=organiser)
    now = chain.timestamp()
    past = [
        make_event(badge=badge, start_time=now + d * DAY, transfer_lock_time=now + d * DAY - 3600)
        for d in (1, 2, 3)
    ]
    for event, attendees in zip(past, ([alice, bob, carol], [alice, bob, dave], [alice, dave])):
        tokens = [event.buy(GENERAL, 1, sender=fan)[0] for fan in attendees]
        assert event.check_in(tokens, sender=organiser)[0] == tokens
    current = make_event(badge=badge)
    past_ids = [
        _register(client, org, event, name) for event, name in zip(past, ("Spring", "Summer", "Autumn"))
    ]
    return SimpleNamespace(
        badge=badge,
        past=past,
        badge_ids=[badge.event_id_of(e.address) for e in past],
        past_ids=past_ids,
        current=current,
        event_id=_register(client, org, current, "Winter"),
    )


def _set_rule(client, org, world, expect=200, **body):
    response = client.put(_url(world.event_id, "rule"), json=body, headers=org["headers"])
    assert response.status_code == expect, response.text
    return response.json()


def _eligibility(client, world, address=None, headers=None):
    response = client.get(
        _url(world.event_id, "eligibility"),
        params={"address": address} if address else None,
        headers=headers or {},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _names(refs):
    return [ref["name"] for ref in refs]


def test_k_of_list_rule_explains_eligibility_and_revoked_badges_do_not_count(
    client, org, chain, organiser, fans, world, new_fan
):
    alice, bob, carol, dave, outsider = fans[:5]
    rule = _set_rule(client, org, world, kind="events", event_ids=world.past_ids, min_events=2)
    assert (rule["kind"], rule["min_events"], rule["n"]) == ("events", 2, None)
    assert [(r["event_id"], r["name"], r["badge_event_id"]) for r in rule["events"]] == list(
        zip(world.past_ids, ["Spring", "Summer", "Autumn"], world.badge_ids)
    )
    assert client.get(_url(world.event_id, "rule")).json() == rule  # public

    bob_answer = _eligibility(client, world, bob.address.lower())
    assert bob_answer["address"] == bob.address and bob_answer["eligible"] and bob_answer["min_events"] == 2
    assert (_names(bob_answer["counted"]), _names(bob_answer["missing"])) == (
        ["Spring", "Summer"],
        ["Autumn"],
    )
    assert bob_answer["missing"][0]["event_id"] == world.past_ids[2] and bob_answer["in_snapshot"] is None
    carol_answer = _eligibility(client, world, carol.address)
    assert not carol_answer["eligible"]
    assert (_names(carol_answer["counted"]), _names(carol_answer["missing"])) == (
        ["Spring"],
        ["Summer", "Autumn"],
    )
    assert _eligibility(client, world, outsider.address)["counted"] == []

    # revoked: dave's Autumn badge is burnt and no longer counts
    assert _eligibility(client, world, dave.address)["eligible"]
    world.badge.revoke(world.badge.badge_id(world.badge_ids[2], dave.address), sender=organiser)
    dave_answer = _eligibility(client, world, dave.address)
    assert not dave_answer["eligible"] and _names(dave_answer["missing"]) == ["Spring", "Autumn"]

    # the answers are the contract's own badge check, once the same rule is set on chain
    world.current.set_presale(
        GENERAL, ends_at=chain.timestamp() + DAY, min_events=2, event_ids=world.badge_ids, sender=organiser
    )
    for fan in (alice, bob, carol, dave, outsider):
        assert _eligibility(client, world, fan.address)["eligible"] == world.current.presale_eligible(
            GENERAL, fan.address
        )

    # a fan asks with their session: the custodial address and the linked wallet; the one that passes answers
    fan = new_fan()
    assert _eligibility(client, world, headers=fan["headers"])["address"] == fan["address"]
    challenge = client.post("/fans/me/wallet/challenge", headers=fan["headers"]).json()
    signature = alice.sign_message(encode_defunct(text=challenge["message"])).signature.to_0x_hex()
    linked = client.post(
        "/fans/me/wallet", json={"address": alice.address, "signature": signature}, headers=fan["headers"]
    )
    assert linked.status_code == 200, linked.text
    mine = _eligibility(client, world, headers=fan["headers"])
    assert mine["address"] == alice.address and mine["eligible"] and len(mine["counted"]) == 3


def test_last_n_rule_takes_the_latest_earlier_events_by_on_chain_start(
    client, org, chain, platform, organiser, fans, make_event, world
):
    alice, bob, carol = fans[:3]
    now = chain.timestamp()
    # neither counts: one starts after this event, one is on another badge contract
    later = make_event(badge=world.badge, start_time=now + 40 * DAY, transfer_lock_time=now + 39 * DAY)
    elsewhere = make_event(start_time=now + 4 * DAY, transfer_lock_time=now + 3 * DAY)
    _register(client, org, later, "Next year")
    _register(client, org, elsewhere, "Other badge")

    rule = _set_rule(client, org, world, kind="last_n", n=2, min_events=1)
    assert (rule["kind"], rule["n"]) == ("last_n", 2) and _names(rule["events"]) == ["Autumn", "Summer"]
    assert not _eligibility(client, world, carol.address)["eligible"]  # only Spring, which is not among them
    assert _names(_eligibility(client, world, bob.address)["counted"]) == ["Summer"]

    rule = _set_rule(client, org, world, kind="last_n", n=10, min_events=3)  # fewer exist: all three earlier
    assert _names(rule["events"]) == ["Autumn", "Summer", "Spring"]
    assert _eligibility(client, world, alice.address)["eligible"]
    assert not _eligibility(client, world, bob.address)["eligible"]

    error = _error(
        client.put(
            _url(world.event_id, "rule"),
            json={"kind": "last_n", "n": 10, "min_events": 4},
            headers=org["headers"],
        ),
        422,
        "presale_min_events_above_count",
    )
    assert (error["min_events"], error["event_count"]) == (4, 3)
    assert _names(client.get(_url(world.event_id, "rule")).json()["events"]) == ["Autumn", "Summer", "Spring"]


def _run_publish_command(chain, command: str, ends: str):
    """The organiser runs the command the gateway gave (the CLI, with their key)."""
    args = shlex.split(command.replace("<end of the presale, ISO 8601>", ends))
    assert args[0] == "ticketkit"
    result = CliRunner().invoke(
        cli_app,
        args[1:],
        catch_exceptions=False,
        env={
            "TICKETKIT_PRIVATE_KEY": tk.ANVIL_KEYS[0],
            "TICKETKIT_RPC": chain.url,
            "TICKETKIT_KEYSTORE": None,
            "TICKETKIT_CHAIN_ID": None,
        },
    )
    chain.reset_nonce(chain.account(0).address)
    assert result.exit_code == 0, (result.stdout, result.stderr)


def test_snapshot_at_a_block_proofs_and_buying_with_them_once_published(
    client, org, chain, organiser, fans, world
):
    alice, bob, carol, dave, outsider = fans[:5]
    _set_rule(client, org, world, kind="events", event_ids=world.past_ids, min_events=2)
    block = chain.w3.eth.block_number
    response = client.post(_url(world.event_id, "snapshot"), json={"block": block}, headers=org["headers"])
    assert response.status_code == 201, response.text
    snap = response.json()
    assert (snap["block"], snap["count"], snap["published"]) == (block, 3, False)
    assert (
        f"--block {block} " in snap["publish_command"]
        and f"--expect-root {snap['root']}" in snap["publish_command"]
    )

    # after B: carol earns a second badge, dave loses one. The snapshot at B is unchanged.
    [token] = world.past[1].buy(GENERAL, 1, sender=carol)
    world.past[1].check_in([token], sender=organiser)
    world.badge.revoke(world.badge.badge_id(world.badge_ids[2], dave.address), sender=organiser)
    again = client.post(
        _url(world.event_id, "snapshot"), json={"block": block}, headers=org["headers"]
    ).json()
    assert (again["block"], again["root"], again["count"]) == (block, snap["root"], 3) and again[
        "id"
    ] != snap["id"]
    at_head = client.post(
        _url(world.event_id, "snapshot"), headers=org["headers"]
    ).json()  # no body: the head
    assert at_head["block"] >= block and at_head["root"] != snap["root"] and at_head["count"] == 3

    # anyone recomputes the published root from the chain with the stored rule, and gets the same value
    client.post(_url(world.event_id, "snapshot"), json={"block": block}, headers=org["headers"])
    _run_publish_command(chain, snap["publish_command"], "2099-01-01T00:00Z")
    detail = client.get(_url(world.event_id, "snapshot")).json()  # public; the published one
    assert (detail["root"], detail["block"], detail["published"]) == (snap["root"], block, True)
    recomputed = tk.presale.take_snapshot(
        chain, detail["badge_address"], detail["badge_event_ids"], detail["min_events"], detail["block"]
    )
    assert (
        "0x" + recomputed.root.hex() == snap["root"] == "0x" + world.current.tier(GENERAL).presale_root.hex()
    )
    assert (
        detail["addresses"]
        == list(recomputed.addresses)
        == sorted([alice.address, bob.address, dave.address], key=str.lower)
    )
    assert world.current.tier(GENERAL).presale_min_events == 2  # the badge rule is kept beside the root

    # dave: on the snapshot, no longer eligible by badges; his proof from the gateway gets him in
    assert not _eligibility(client, world, dave.address)["eligible"]
    assert _eligibility(client, world, dave.address)["in_snapshot"] is True
    proof = client.get(_url(world.event_id, "proof"), params={"address": dave.address})
    assert proof.status_code == 200, proof.text
    proof = proof.json()
    assert (proof["root"], proof["block"], proof["published"], proof["address"]) == (
        snap["root"],
        block,
        True,
        dave.address,
    )
    with pytest.raises(errors.PresaleNotEligible):
        world.current.buy(GENERAL, 1, sender=dave)
    assert (
        len(world.current.buy(GENERAL, 1, sender=dave, proof=[bytes.fromhex(p[2:]) for p in proof["proof"]]))
        == 1
    )

    # carol: not on the snapshot, but the on-chain badge path still works
    _error(
        client.get(_url(world.event_id, "proof"), params={"address": carol.address}), 404, "not_in_snapshot"
    )
    assert len(world.current.buy(GENERAL, 1, sender=carol)) == 1
    # an outsider: no proof, and somebody else's proof is refused by the contract
    _error(
        client.get(_url(world.event_id, "proof"), params={"address": outsider.address}),
        404,
        "not_in_snapshot",
    )
    alice_proof = client.get(_url(world.event_id, "proof"), params={"address": alice.address}).json()["proof"]
    with pytest.raises(errors.PresaleNotEligible) as info:
        world.current.buy(GENERAL, 1, sender=outsider, proof=[bytes.fromhex(p[2:]) for p in alice_proof])
    assert (info.value.tierId, info.value.buyer) == (GENERAL, outsider.address)


def test_bad_input_is_refused_with_a_code(client, org, chain, make_event, fans, world, new_fan):
    rule_url = _url(world.event_id, "rule")
    body = {"kind": "events", "event_ids": world.past_ids, "min_events": 2}
    unknown = "00000000-0000-4000-8000-000000000000"
    # before a rule or a snapshot exists
    _error(
        client.get(_url(world.event_id, "eligibility"), params={"address": fans[0].address}),
        404,
        "presale_rule_not_found",
    )
    _error(
        client.post(_url(world.event_id, "snapshot"), headers=org["headers"]), 404, "presale_rule_not_found"
    )
    _error(
        client.get(_url(world.event_id, "proof"), params={"address": fans[0].address}),
        404,
        "snapshot_not_found",
    )
    # writes need the event's organiser
    _error(client.put(rule_url, json=body), 401, "unauthorized")
    other = client.post("/organisers", json={"name": "Rival"}).json()
    other_headers = bearer(other["api_key"])
    _error(client.put(rule_url, json=body, headers=other_headers), 404, "event_not_found")
    _error(client.put(_url(unknown, "rule"), json=body, headers=org["headers"]), 404, "event_not_found")
    _error(
        client.put(_url(world.event_id, "rule", tier=7), json=body, headers=org["headers"]),
        404,
        "tier_not_found",
    )
    # the listed events: someone else's, unknown, this one, twice, on another badge contract
    rival_event = _register(
        client, other | {"headers": other_headers}, make_event(badge=world.badge), "Rival gig"
    )
    for ids, code in (
        ([world.past_ids[0], rival_event], "presale_event_not_own"),
        ([unknown], "presale_event_not_own"),
        ([world.event_id], "presale_event_is_this_event"),
        ([world.past_ids[0], world.past_ids[0]], "presale_duplicate_event"),
        ([_register(client, org, make_event(), "Own badge")], "presale_event_no_badge"),
    ):
        _error(
            client.put(rule_url, json=body | {"event_ids": ids, "min_events": 1}, headers=org["headers"]),
            422,
            code,
        )
    error = _error(
        client.put(rule_url, json=body | {"min_events": 4}, headers=org["headers"]),
        422,
        "presale_min_events_above_count",
    )
    assert (error["min_events"], error["event_count"]) == (4, 3)
    for bad in (
        {"kind": "events", "n": 2, "min_events": 1},
        {"kind": "last_n", "event_ids": world.past_ids, "min_events": 1},
    ):
        _error(client.put(rule_url, json=bad, headers=org["headers"]), 422, "presale_rule_invalid")
    for bad in (body | {"kind": "all"}, body | {"min_events": 0}):
        _error(client.put(rule_url, json=bad, headers=org["headers"]), 422, "invalid_request")
    no_badge = _register(client, org, make_event(badge=False), "No badge")
    _error(client.put(_url(no_badge, "rule"), json=body, headers=org["headers"]), 422, "presale_needs_badge")

    # reads: the address, or a fan session
    _set_rule(client, org, world, **body)
    for bad in ("0x1234", "not-an-address", fans[0].address.lower()[:-1] + "g"):
        _error(
            client.get(_url(world.event_id, "eligibility"), params={"address": bad}), 422, "invalid_address"
        )
    _error(client.get(_url(world.event_id, "eligibility")), 422, "address_required")
    _error(client.get(_url(world.event_id, "eligibility"), headers=bearer("tkf_nope")), 401, "unauthorized")
    _error(
        client.get(_url(unknown, "eligibility"), params={"address": fans[0].address}), 404, "event_not_found"
    )
    _error(
        client.get(_url(world.event_id, "eligibility", tier=9), params={"address": fans[0].address}),
        404,
        "tier_not_found",
    )
    _error(
        client.get(_url(world.event_id, "eligibility", tier=2**40), params={"address": fans[0].address}),
        422,
        "invalid_request",
    )
    # snapshots: a block not mined yet; someone else's event
    head = chain.w3.eth.block_number
    error = _error(
        client.post(_url(world.event_id, "snapshot"), json={"block": head + 100}, headers=org["headers"]),
        422,
        "block_not_mined",
    )
    assert error["head"] >= head
    _error(
        client.post(_url(world.event_id, "snapshot"), json={"block": -1}, headers=org["headers"]),
        422,
        "invalid_request",
    )
    _error(client.post(_url(world.event_id, "snapshot"), headers=other_headers), 404, "event_not_found")
    # before the badge contract existed nobody was eligible: an empty snapshot, nothing to publish
    empty = client.post(_url(world.event_id, "snapshot"), json={"block": 1}, headers=org["headers"]).json()
    assert (empty["block"], empty["count"], empty["root"], empty["published"]) == (
        1,
        0,
        "0x" + "00" * 32,
        False,
    )
    fan = new_fan()
    client.post(_url(world.event_id, "snapshot"), headers=org["headers"])
    _error(client.get(_url(world.event_id, "proof"), headers=fan["headers"]), 404, "not_in_snapshot")


def test_presale_tables_match_their_migration(app):
    with app.state.runtime.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in diffs if "presale" in json.dumps(d, default=str)] == []
    tables = {name for name in SQLModel.metadata.tables if name.startswith("presale")}
    assert tables == {"presale_rules", "presale_snapshots"}
