"""Resale over HTTP: a fan lists a ticket, another buys it."""

from __future__ import annotations


def list_ticket(client, fan, ticket, price, key="list-1"):
    """The fan lists `ticket` at `price` (POST /tickets/{id}/resale): the listing."""
    response = client.post(
        f"/tickets/{ticket['id']}/resale",
        json={"price_wei": price},
        headers=fan["headers"] | {"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    return response.json()


def buy(client, fan, listing_id, *, key="buy-1", ref="stripe:pi_9"):
    """The fan buys the listing (POST /listings/{id}/buy): the response, whatever its status."""
    return client.post(
        f"/listings/{listing_id}/buy",
        json={"payment_reference": ref},
        headers=fan["headers"] | {"Idempotency-Key": key},
    )
