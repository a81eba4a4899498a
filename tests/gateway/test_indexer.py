"""The chain indexer against the real anvil, on SQLite and PostgreSQL: records equal the chain, confirmation
depth, reorgs (anvil snapshot/revert), restarts and late registrations."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from gateway.indexer import Indexer
from gateway.indexer.models import ChainEvent, IndexedToken, IndexerCursor
from gateway.models import Fan, Ticket

ETH = 10**18


@pytest.fixture()
def engine(app):
    return app.state.runtime.engine


@pytest.fixture()
def register(client, org, organiser, operator):
    def do(collection):
        collection.grant_role("MINTER_ROLE", operator.address, sender=organiser)
        collection.grant_role("GATEWAY_ROLE", operator.address, sender=organiser)
        response = client.post("/events", json={"collection_address": collection.address, "name": "Gig"},
                               headers=org["headers"])
        assert response.status_code == 201, response.text
        return response.json()

    return do


@pytest.fixture()
def giftable(make_event, register):
    collection = make_event(gifts_allowed=True)
    register(collection)
    return collection


def mine(chain, blocks):
    chain.rpc("anvil_mine", [hex(blocks)])


def rows(engine, model, *where):
    with engine.connect() as conn:
        return list(conn.execute(select(model).where(*where)).mappings())


def assert_equals_chain(engine, chain, collection):
    """Every minted ticket of `collection`: indexed owner/used/listing and the gateway record equal the chain."""
    tokens = {int(r["token_id"]): r for r in rows(engine, IndexedToken, IndexedToken.contract == collection.address)}
    tickets = {r["token_id"]: r for r in rows(engine, Ticket, Ticket.contract == collection.address)}
    fans = {r["address"]: r["id"] for r in rows(engine, Fan)}
    minted = collection.total_minted()
    assert len(tokens) == minted and len(tickets) == minted
    for token_id, token in tokens.items():
        on_chain = collection.ticket(token_id)
        assert (token["owner"], token["used"], token["burned"], token["tier_id"]) == (
            on_chain.owner, on_chain.used, False, on_chain.tier_id), token_id
        assert (token["listed_by"], token["listed_price_wei"]) == (
            on_chain.listed_by, None if on_chain.listed_price is None else str(on_chain.listed_price))
        assert tickets[token_id]["owner_fan_id"] == fans.get(on_chain.owner)
        assert tickets[token_id]["tier_id"] == on_chain.tier_id
    return tokens


def test_events_are_indexed_and_records_equal_the_chain(engine, chain, giftable, organiser, fans, new_fan):
    fan = new_fan()
    bought = giftable.buy(0, 2, sender=fans[0])
    vip = giftable.buy(1, 1, sender=fans[1])
    giftable.gift(bought[0], fan["address"], sender=fans[0])   # into a gateway fan's custodial account
    giftable.gift(bought[1], fans[2].address, sender=fans[0])
    giftable.list_for_resale(vip[0], ETH // 2, sender=fans[1])
    giftable.check_in([bought[1]], sender=organiser)           # used + an attendance badge
    indexer = Indexer(engine, chain, confirmations=0)
    stats = indexer.poll_once()
    assert stats.events > 0 and stats.tickets_created == 3 and stats.to_block == chain.w3.eth.block_number
    assert_equals_chain(engine, chain, giftable)
    [ticket] = rows(engine, Ticket, Ticket.token_id == bought[0], Ticket.contract == giftable.address)
    assert ticket["owner_fan_id"] is not None and str(ticket["owner_fan_id"]) == fan["id"]
    badge = giftable.badge()
    [badge_token] = rows(engine, IndexedToken, IndexedToken.contract == badge.address)
    assert badge_token["kind"] == "badge" and badge_token["owner"] == fans[2].address
    assert badge.balance_of(fans[2].address) == 1
    # a resale on chain: listing cleared, owner moved
    giftable.buy_resale(vip[0], sender=fans[3])
    assert indexer.poll_once().events >= 2
    tokens = assert_equals_chain(engine, chain, giftable)
    assert tokens[vip[0]]["owner"] == fans[3].address and tokens[vip[0]]["listed_by"] is None
    assert indexer.poll_once().events == 0


def test_gateway_issued_tickets_keep_their_record_and_follow_gifts(engine, chain, register, make_event, client,
                                                                   org, new_fan):
    collection = make_event()
    event = register(collection)
    alice, bob = new_fan(), new_fan()
    issued = client.post(f"/events/{event['id']}/tickets/issue",
                         json={"fan_id": alice["id"], "tier_id": 0, "quantity": 2, "payment_reference": "p1"},
                         headers=org["headers"] | {"Idempotency-Key": "k1"})
    assert issued.status_code == 201, issued.text
    ticket = issued.json()["tickets"][0]
    indexer = Indexer(engine, chain, confirmations=0)
    assert indexer.poll_once().tickets_created == 0  # the gateway's own records, not duplicated
    gift = client.post(f"/tickets/{ticket['id']}/gift", json={"to_fan": bob["id"]},
                       headers=alice["headers"] | {"Idempotency-Key": "g1"})
    assert gift.status_code == 201, gift.text
    indexer.poll_once()
    assert_equals_chain(engine, chain, collection)
    [row] = rows(engine, Ticket, Ticket.token_id == ticket["token_id"], Ticket.contract == collection.address)
    assert str(row["id"]) == ticket["id"] and str(row["owner_fan_id"]) == bob["id"]


def test_confirmation_depth_is_respected(engine, chain, giftable, fans):
    indexer = Indexer(engine, chain, confirmations=3)
    indexer.poll_once()
    [token_id] = giftable.buy(0, 1, sender=fans[0])
    block = chain.w3.eth.block_number
    stats = indexer.poll_once()
    assert stats.to_block is None or stats.to_block < block
    assert rows(engine, IndexedToken, IndexedToken.contract == giftable.address) == []
    mine(chain, 2)
    indexer.poll_once()
    assert rows(engine, IndexedToken, IndexedToken.contract == giftable.address) == []  # 2 deep, not 3
    mine(chain, 1)
    stats = indexer.poll_once()
    assert stats.to_block == block and stats.events >= 2
    assert_equals_chain(engine, chain, giftable)
    [cursor] = rows(engine, IndexerCursor, IndexerCursor.chain_id == chain.chain_id)
    assert cursor["block_number"] == block
    assert cursor["block_hash"] == chain.w3.eth.get_block(block)["hash"].to_0x_hex()


def test_a_reorg_is_rolled_back_and_the_new_chain_indexed(engine, chain, giftable, fans, organiser):
    indexer = Indexer(engine, chain, confirmations=0)
    kept = giftable.buy(0, 1, sender=fans[0])
    indexer.poll_once()
    snapshot, fork_point = chain.snapshot(), chain.w3.eth.block_number
    orphan = giftable.buy(0, 2, sender=fans[1])
    giftable.gift(orphan[0], fans[2].address, sender=fans[1])
    giftable.gift(kept[0], fans[3].address, sender=fans[0])
    giftable.check_in([orphan[1]], sender=organiser)
    indexer.poll_once()
    assert len(rows(engine, IndexedToken, IndexedToken.contract == giftable.address)) == 3
    orphan_txs = {r["tx_hash"] for r in rows(engine, ChainEvent, ChainEvent.block_number > fork_point)}
    assert len(orphan_txs) == 4
    chain.revert_to(snapshot)
    # a different, longer history: a VIP ticket takes the orphaned token id, the kept ticket moves elsewhere
    new = giftable.buy(1, 1, sender=fans[4])
    giftable.gift(kept[0], fans[5].address, sender=fans[0])
    mine(chain, 5)
    stats = indexer.poll_once()
    assert stats.reorgs == 1 and stats.rolled_back_events > 0
    tokens = assert_equals_chain(engine, chain, giftable)
    assert tokens[kept[0]]["owner"] == fans[5].address and tokens[new[0]]["tier_id"] == 1
    assert new[0] == orphan[0] and orphan[1] not in tokens
    badge = giftable.badge()
    assert rows(engine, IndexedToken, IndexedToken.contract == badge.address) == []  # the check-in is gone
    events = rows(engine, ChainEvent)
    hashes = {r["tx_hash"] for r in events}
    for event in events:  # every remaining event is on the canonical chain
        assert chain.w3.eth.get_block(event["block_number"])["hash"].to_0x_hex() == event["block_hash"]
    assert orphan_txs.isdisjoint(hashes)
    assert indexer.poll_once().reorgs == 0


def test_a_new_indexer_resumes_from_the_cursor_without_duplicates(engine, chain, giftable, fans):
    giftable.buy(0, 3, sender=fans[0])
    first = Indexer(engine, chain, confirmations=0).poll_once()
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(ChainEvent)).scalar_one()
    assert count == first.events > 0
    giftable.buy(0, 1, sender=fans[1])
    restarted = Indexer(engine, chain, confirmations=0)
    second = restarted.poll_once()
    assert second.from_block == first.to_block + 1 and second.events == 2  # Transfer + TicketsPurchased
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ChainEvent)).scalar_one() == count + 2
    assert restarted.poll_once().events == 0
    assert_equals_chain(engine, chain, giftable)


def test_a_collection_registered_later_is_backfilled(engine, chain, make_event, register, giftable, fans):
    late = make_event(gifts_allowed=True)
    late.buy(0, 2, sender=fans[0])  # before it is registered
    indexer = Indexer(engine, chain, confirmations=0)
    indexer.poll_once()
    assert rows(engine, IndexedToken, IndexedToken.contract == late.address) == []
    register(late)
    late.buy(1, 1, sender=fans[1])
    stats = indexer.poll_once()
    assert stats.backfilled_events >= 2
    assert_equals_chain(engine, chain, late)
    assert_equals_chain(engine, chain, giftable)


def test_run_forever_follows_the_chain_until_stopped(engine, chain, giftable, fans):
    stop = threading.Event()
    indexer = Indexer(engine, chain, confirmations=0, poll_interval=0.05)
    worker = threading.Thread(target=indexer.run_forever, args=(stop,))
    worker.start()
    try:
        giftable.buy(0, 2, sender=fans[0])
        target = chain.w3.eth.block_number
        for _ in range(200):
            with engine.connect() as conn:
                at = conn.execute(select(IndexerCursor.block_number)).scalar_one_or_none()
            if at is not None and at >= target:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    assert_equals_chain(engine, chain, giftable)
