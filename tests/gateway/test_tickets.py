from __future__ import annotations

import uuid

import ticketkit as tk


def test_issue_mints_to_the_fan_and_a_retry_does_not_mint_twice(
    client, org, gw_event, collection, new_fan, issue
):
    fan = new_fan()
    first = issue(fan, key="order-42", quantity=2, ref="stripe:pi_1")
    assert [t["token_id"] for t in first["tickets"]] == [1, 2]
    assert first["tx_hash"].startswith("0x") and first["payment_reference"] == "stripe:pi_1"
    assert collection.balance_of(fan["address"]) == 2
    again = issue(fan, key="order-42", quantity=2, ref="stripe:pi_1")
    assert again == first
    assert collection.total_minted() == 2
    reused = issue(fan, key="order-42", quantity=1, ref="stripe:pi_1", expect=422)
    assert reused["error"] == "idempotency_key_reused"
    for t in first["tickets"]:
        assert client.get(f"/tickets/{t['id']}", headers=fan["headers"]).json()["token_id"] == t["token_id"]


def test_issue_refusals_are_machine_readable(client, org, gw_event, collection, new_fan, issue):
    fan = new_fan()
    url = f"/events/{gw_event['id']}/tickets/issue"
    body = {"fan_id": fan["id"], "tier_id": 1, "quantity": 1, "payment_reference": "x"}
    no_key = client.post(url, json=body, headers=org["headers"])
    assert no_key.status_code == 422 and no_key.json()["error"] == "idempotency_key_required"
    sold_out = issue(fan, key="big", tier_id=1, quantity=11, expect=409)
    assert sold_out["error"] == "sold_out" and sold_out["args"]["remaining"] == "10"
    assert issue(fan, key="big", tier_id=1, quantity=10)["tickets"]  # a refused key can be used again
    assert issue({"id": str(uuid.uuid4())}, expect=404)["error"] == "fan_not_found"
    assert issue(fan, tier_id=7, expect=409)["error"] == "tier_does_not_exist"
    other = client.post("/organisers", json={"name": "Other"}).json()
    foreign = client.post(
        url, json=body, headers={"Authorization": f"Bearer {other['api_key']}", "Idempotency-Key": "k"}
    )
    assert foreign.status_code == 404 and foreign.json()["error"] == "event_not_found"
    assert (
        client.post(
            url, json=body | {"quantity": 0}, headers=org["headers"] | {"Idempotency-Key": "q"}
        ).status_code
        == 422
    )


def test_a_fan_sees_only_their_own_tickets(client, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    assert client.get(f"/tickets/{ticket['id']}", headers=alice["headers"]).status_code == 200
    theirs = client.get(f"/tickets/{ticket['id']}", headers=bob["headers"])
    assert theirs.status_code == 404 and theirs.json()["error"] == "ticket_not_found"
    assert client.get(f"/tickets/{uuid.uuid4()}", headers=alice["headers"]).status_code == 404
    malformed = client.get("/tickets/not-a-uuid", headers=alice["headers"])
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_request"


def test_a_fan_lists_their_tickets_with_event_and_tier_names(client, gw_event, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    general = issue(alice, key="a", tier_id=0, quantity=2)["tickets"]
    vip = issue(alice, key="b", tier_id=1)["tickets"]
    issue(bob, key="c")
    mine = client.get("/fans/me/tickets", headers=alice["headers"]).json()
    assert [t["id"] for t in mine] == [t["id"] for t in general + vip]
    names = {t["tier_id"]: t["name"] for t in gw_event["tiers"]}
    assert [(t["tier_name"], t["event_name"], t["checked_in"]) for t in mine] == [
        (names[t["tier_id"]], gw_event["name"], False) for t in general + vip
    ]
    assert client.get(f"/tickets/{vip[0]['id']}", headers=alice["headers"]).json() == mine[-1]
    assert len(client.get("/fans/me/tickets", headers=bob["headers"]).json()) == 1
    assert client.get("/fans/me/tickets").status_code == 401


def test_gift_moves_the_ticket_on_chain_once(client, collection, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    headers = alice["headers"] | {"Idempotency-Key": "gift-1"}
    response = client.post(f"/tickets/{ticket['id']}/gift", json={"to_fan": bob["id"]}, headers=headers)
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["status"] == "done" and transfer["tx_hash"].startswith("0x")
    assert collection.owner_of(ticket["token_id"]) == bob["address"]
    assert collection.nonce_of(alice["address"]) == 1
    again = client.post(f"/tickets/{ticket['id']}/gift", json={"to_fan": bob["id"]}, headers=headers)
    assert again.status_code == 201 and again.json() == transfer
    assert collection.nonce_of(alice["address"]) == 1
    assert client.get(f"/tickets/{ticket['id']}", headers=bob["headers"]).status_code == 200
    assert client.get(f"/tickets/{ticket['id']}", headers=alice["headers"]).status_code == 404
    gone = client.post(
        f"/tickets/{ticket['id']}/gift",
        json={"to_fan": bob["id"]},
        headers=alice["headers"] | {"Idempotency-Key": "gift-2"},
    )
    assert gone.status_code == 404


def test_gift_refusals(client, new_fan, issue):
    alice = new_fan()
    [ticket] = issue(alice)["tickets"]
    url = f"/tickets/{ticket['id']}/gift"
    key = {"Idempotency-Key": "g"}
    assert (
        client.post(url, json={"to_fan": alice["id"]}, headers=alice["headers"] | key).json()["error"]
        == "same_fan"
    )
    assert (
        client.post(url, json={"to_fan": str(uuid.uuid4())}, headers=alice["headers"] | key).json()["error"]
        == "fan_not_found"
    )
    assert client.post(url, json={"to_fan": "x"}, headers=alice["headers"] | key).status_code == 422
    assert client.post(url, json={"to_fan": alice["id"]}, headers=alice["headers"]).status_code == 422


def test_gift_obeys_the_gift_policy_and_pause(
    client, org, make_event, collection, organiser, operator, new_fan, issue
):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    url, headers = f"/tickets/{ticket['id']}/gift", alice["headers"] | {"Idempotency-Key": "paused"}
    collection.pause(sender=organiser)
    paused = client.post(url, json={"to_fan": bob["id"]}, headers=headers)
    assert paused.status_code == 409 and paused.json()["error"] == "enforced_pause", paused.text
    collection.unpause(sender=organiser)
    assert (
        client.post(url, json={"to_fan": bob["id"]}, headers=headers).status_code == 201
    )  # the key is reusable

    no_gifts = make_event()
    for role in ("MINTER_ROLE", "GATEWAY_ROLE"):
        no_gifts.grant_role(role, operator.address, sender=organiser)
    event = client.post(
        "/events", json={"collection_address": no_gifts.address, "name": "No gifts"}, headers=org["headers"]
    ).json()
    issued = client.post(
        f"/events/{event['id']}/tickets/issue",
        headers=org["headers"] | {"Idempotency-Key": "ng"},
        json={"fan_id": alice["id"], "tier_id": 0, "quantity": 1, "payment_reference": "ng"},
    )
    [kept] = issued.json()["tickets"]
    refused = client.post(
        f"/tickets/{kept['id']}/gift",
        json={"to_fan": bob["id"]},
        headers=alice["headers"] | {"Idempotency-Key": "ng-gift"},
    )
    assert refused.status_code == 409 and refused.json()["error"] == "gifts_not_allowed", refused.text
    assert (
        no_gifts.owner_of(kept["token_id"]) == alice["address"] and no_gifts.nonce_of(alice["address"]) == 0
    )


def test_resale_is_capped_and_idempotent(client, collection, new_fan, issue):
    alice = new_fan()
    [ticket] = issue(alice)["tickets"]
    cap = collection.resale_cap_of(ticket["token_id"])
    url = f"/tickets/{ticket['id']}/resale"
    over = client.post(url, json={"price_wei": cap + 1}, headers=alice["headers"] | {"Idempotency-Key": "r0"})
    assert over.status_code == 409
    assert over.json()["error"] == "price_above_cap" and over.json()["cap_wei"] == str(cap)
    headers = alice["headers"] | {"Idempotency-Key": "r1"}
    listed = client.post(url, json={"price_wei": cap}, headers=headers)
    assert listed.status_code == 201, listed.text
    assert listed.json()["price_wei"] == str(cap) and listed.json()["status"] == "active"
    assert client.post(url, json={"price_wei": cap}, headers=headers).json() == listed.json()
    assert (
        client.post(url, json={"price_wei": 5}, headers=headers).json()["error"] == "idempotency_key_reused"
    )
    assert client.post(url, json={"price_wei": -1}, headers=headers).status_code == 422
    assert client.post(url, json={"price_wei": 2**256}, headers=headers).status_code == 422
    bob = new_fan()
    assert (
        client.post(url, json={"price_wei": 1}, headers=bob["headers"] | {"Idempotency-Key": "b"}).status_code
        == 404
    )


def test_resale_of_a_checked_in_ticket_is_refused(client, collection, organiser, new_fan, issue):
    alice = new_fan()
    [ticket] = issue(alice)["tickets"]
    collection.check_in([ticket["token_id"]], sender=organiser)
    used = client.post(
        f"/tickets/{ticket['id']}/resale",
        json={"price_wei": 1},
        headers=alice["headers"] | {"Idempotency-Key": "u"},
    )
    assert used.status_code == 409 and used.json()["error"] == "ticket_already_used"
    assert isinstance(tk.errors.error_class("TicketAlreadyUsed")(tokenId=1), tk.ContractRevert)


def test_bad_bodies_are_4xx(client, org, new_fan):
    big = client.post(
        "/organisers",
        content=b'{"name": "' + b"x" * 70_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["error"] == "body_too_large"

    def chunks():
        for _ in range(100):
            yield b"x" * 1024

    streamed = client.post("/organisers", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    broken = client.post("/organisers", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["error"] == "invalid_request"
    assert client.post("/organisers", json={"name": ""}).status_code == 422
    assert client.post("/organisers", json=["list"]).status_code == 422
    assert client.get("/nowhere").json()["error"] == "not_found"
