"""With GATEWAY_INDEXER_ENABLED the app follows the chain by itself: an on-chain purchase by a wallet
holder shows up as a ticket record without anyone calling the indexer."""

import time

import pytest
from sqlalchemy import select

from gateway.models import Ticket


@pytest.fixture()
def settings(settings, database_url):  # database_url: named so its sqlite/postgresql parameters apply
    """The conftest's settings with the indexer on, polling fast (the conftest's `app` then empties a
    PostgreSQL database after the test, as for every other)."""
    return settings.model_copy(
        update={"indexer_enabled": True, "indexer_confirmations": 0, "indexer_poll_seconds": 0.1}
    )


def test_the_app_indexes_on_chain_purchases_in_the_background(app, client, collection, fans):
    org = client.post("/organisers", json={"name": "Acme"}).json()
    response = client.post(
        "/events",
        json={"collection_address": collection.address},
        headers={"Authorization": f"Bearer {org['api_key']}"},
    )
    assert response.status_code == 201, response.text
    [token] = collection.buy(0, 1, sender=fans[0])
    engine = app.state.runtime.engine
    deadline = time.monotonic() + 15
    found = []
    while not found and time.monotonic() < deadline:
        with engine.connect() as conn:
            found = list(
                conn.execute(
                    select(Ticket.token_id).where(
                        Ticket.contract == collection.address, Ticket.token_id == token
                    )
                )
            )
        time.sleep(0.1)
    assert found, "the background indexer did not record the on-chain purchase"
