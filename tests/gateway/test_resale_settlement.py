from __future__ import annotations

import uuid

from tests.utils.resale import buy, list_ticket


def test_a_listing_is_settled_on_chain_at_its_price_once(client, gw_event, collection, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    cap = collection.resale_cap_of(ticket["token_id"])
    listing = list_ticket(client, alice, ticket, cap)
    public = client.get(f"/events/{gw_event['id']}/listings").json()
    assert public == [
        {
            "id": listing["id"],
            "ticket_id": ticket["id"],
            "token_id": ticket["token_id"],
            "tier_id": 0,
            "price_wei": str(cap),
            "cap_wei": str(cap),
        }
    ]

    bought = buy(client, bob, listing["id"])
    assert bought.status_code == 201, bought.text
    settlement = bought.json()
    assert settlement["status"] == "done" and settlement["price_wei"] == str(cap)
    assert settlement["payment_reference"] == "stripe:pi_9" and settlement["tx_hash"].startswith("0x")
    # ERC-2981 on the declared price: owed to the organiser (the royalty receiver), recorded with the sale
    assert (settlement["royalty_receiver"], settlement["royalty_wei"]) == (
        collection.chain.account(0).address,
        str(cap * 500 // 10_000),
    )
    assert collection.owner_of(ticket["token_id"]) == bob["address"]
    receipt = collection.chain.w3.eth.get_transaction_receipt(settlement["tx_hash"])
    [moved] = collection.events(receipt, "GatewayTransferred")
    assert moved["args"]["price"] == cap and moved["args"]["to"] == bob["address"]
    assert collection.nonce_of(alice["address"]) == 1

    again = buy(client, bob, listing["id"])
    assert again.status_code == 201 and again.json() == settlement
    assert collection.nonce_of(alice["address"]) == 1
    assert buy(client, bob, listing["id"], ref="other").json()["error"] == "idempotency_key_reused"
    assert client.get(f"/tickets/{ticket['id']}", headers=bob["headers"]).status_code == 200
    assert client.get(f"/tickets/{ticket['id']}", headers=alice["headers"]).status_code == 404
    assert client.get(f"/events/{gw_event['id']}/listings").json() == []
    carol = new_fan()
    sold = buy(client, carol, listing["id"], key="c")
    assert sold.status_code == 409 and sold.json()["error"] == "listing_not_active"
    # the buyer can resell it in turn
    relisted = list_ticket(client, bob, ticket, cap - 1, key="bob-list")
    assert buy(client, carol, relisted["id"], key="c2").json()["status"] == "done"
    assert collection.owner_of(ticket["token_id"]) == carol["address"]


def test_settlement_refusals(client, gw_event, collection, organiser, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    first, second = issue(alice, quantity=2)["tickets"]
    listing = list_ticket(client, alice, first, 1)
    own = buy(client, alice, listing["id"])
    assert own.status_code == 409 and own.json()["error"] == "own_listing"
    collection.pause(sender=organiser)  # a paused collection moves nothing: refused before recording
    paused = buy(client, bob, listing["id"])
    assert paused.status_code == 409 and paused.json()["error"] == "enforced_pause"
    collection.unpause(sender=organiser)
    assert buy(client, bob, str(uuid.uuid4())).json()["error"] == "listing_not_found"
    no_key = client.post(
        f"/listings/{listing['id']}/buy", json={"payment_reference": "x"}, headers=bob["headers"]
    )
    assert no_key.status_code == 422 and no_key.json()["error"] == "idempotency_key_required"
    assert (
        client.post(
            f"/listings/{listing['id']}/buy", json={}, headers=bob["headers"] | {"Idempotency-Key": "e"}
        ).status_code
        == 422
    )
    assert client.post(f"/listings/{listing['id']}/buy", json={"payment_reference": "x"}).status_code == 401

    # cancelling: only the seller, only once
    foreign = client.delete(f"/listings/{listing['id']}", headers=bob["headers"])
    assert foreign.status_code == 404 and foreign.json()["error"] == "listing_not_found"
    cancelled = client.delete(f"/listings/{listing['id']}", headers=alice["headers"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = client.delete(f"/listings/{listing['id']}", headers=alice["headers"])
    assert twice.status_code == 409 and twice.json()["error"] == "listing_not_active"
    gone = buy(client, bob, listing["id"])
    assert gone.status_code == 409 and gone.json()["error"] == "listing_not_active"
    assert client.get(f"/events/{gw_event['id']}/listings").json() == []
    assert client.get(f"/events/{uuid.uuid4()}/listings").json()["error"] == "event_not_found"

    # a ticket used at the gate after it was listed
    used_listing = list_ticket(client, alice, second, 1, key="list-2")
    collection.check_in([second["token_id"]], sender=organiser)
    used = buy(client, bob, used_listing["id"], key="buy-used")
    assert used.status_code == 409 and used.json()["error"] == "ticket_already_used"
    assert collection.owner_of(second["token_id"]) == alice["address"]


def test_a_contract_refusal_puts_the_listing_back(client, gw_event, collection, chain, new_fan, issue):
    alice, bob = new_fan(), new_fan()
    [ticket] = issue(alice)["tickets"]
    listing = list_ticket(client, alice, ticket, 1)
    chain.travel_to(collection.event_info()["transfer_lock_time"] + 1)
    locked = buy(client, bob, listing["id"], key="locked")
    assert locked.status_code == 409 and locked.json()["error"] == "transfers_locked", locked.text
    assert collection.owner_of(ticket["token_id"]) == alice["address"]
    assert [x["id"] for x in client.get(f"/events/{gw_event['id']}/listings").json()] == [listing["id"]]
