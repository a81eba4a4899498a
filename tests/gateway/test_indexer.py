"""The chain indexer against the real anvil, on SQLite and PostgreSQL: records equal the chain, confirmation
depth, reorgs (anvil snapshot/revert), restarts and late registrations."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from gateway.indexer import Indexer
from gateway.indexer.models import Badge, ChainEvent, Checkin, IndexedToken, IndexerCursor
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
        response = client.post(
            "/events", json={"collection_address": collection.address, "name": "Gig"}, headers=org["headers"]
        )
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
    """Every minted ticket of `collection`: indexed owner/used/listing and the gateway record equal the
    chain."""
    tokens = {
        int(r["token_id"]): r for r in rows(engine, IndexedToken, IndexedToken.contract == collection.address)
    }
    tickets = {r["token_id"]: r for r in rows(engine, Ticket, Ticket.contract == collection.address)}
    fans = {r["address"]: r["id"] for r in rows(engine, Fan)}
    minted = collection.total_minted()
    assert len(tokens) == minted and len(tickets) == minted
    for token_id, token in tokens.items():
        on_chain = collection.ticket(token_id)
        assert (token["owner"], token["used"], token["burned"], token["tier_id"]) == (
            on_chain.owner,
            on_chain.used,
            False,
            on_chain.tier_id,
        ), token_id
        assert (token["listed_by"], token["listed_price_wei"]) == (
            on_chain.listed_by,
            None if on_chain.listed_price is None else str(on_chain.listed_price),
        )
        assert tickets[token_id]["owner_fan_id"] == fans.get(on_chain.owner)
        assert tickets[token_id]["tier_id"] == on_chain.tier_id
    return tokens


def test_events_are_indexed_and_records_equal_the_chain(engine, chain, giftable, organiser, fans, new_fan):
    fan = new_fan()
    bought = giftable.buy(0, 2, sender=fans[0])
    vip = giftable.buy(1, 1, sender=fans[1])
    giftable.gift(bought[0], fan["address"], sender=fans[0])  # into a gateway fan's custodial account
    giftable.gift(bought[1], fans[2].address, sender=fans[0])
    giftable.list_for_resale(vip[0], ETH // 2, sender=fans[1])
    giftable.check_in([bought[1]], sender=organiser)  # used + an attendance badge
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


def test_gateway_issued_tickets_keep_their_record_and_follow_gifts(
    engine, chain, register, make_event, client, org, new_fan
):
    collection = make_event(gifts_allowed=True)
    event = register(collection)
    alice, bob = new_fan(), new_fan()
    issued = client.post(
        f"/events/{event['id']}/tickets/issue",
        json={"fan_id": alice["id"], "tier_id": 0, "quantity": 2, "payment_reference": "p1"},
        headers=org["headers"] | {"Idempotency-Key": "k1"},
    )
    assert issued.status_code == 201, issued.text
    ticket = issued.json()["tickets"][0]
    indexer = Indexer(engine, chain, confirmations=0)
    assert indexer.poll_once().tickets_created == 0  # the gateway's own records, not duplicated
    gift = client.post(
        f"/tickets/{ticket['id']}/gift",
        json={"to_fan": bob["id"]},
        headers=alice["headers"] | {"Idempotency-Key": "g1"},
    )
    assert gift.status_code == 201, gift.text
    indexer.poll_once()
    assert_equals_chain(engine, chain, collection)
    [row] = rows(engine, Ticket, Ticket.token_id == ticket["token_id"], Ticket.contract == collection.address)
    assert str(row["id"]) == ticket["id"] and str(row["owner_fan_id"]) == bob["id"]


def test_confirmation_depth_is_respected(engine, chain, giftable, fans):
    indexer = Indexer(engine, chain, confirmations=3)
    indexer.poll_once()
    [_token_id] = giftable.buy(0, 1, sender=fans[0])
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


def _indexed_to(engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(IndexerCursor.block_number)).scalar_one_or_none()


def _wait_until(condition, what: str, timeout: float = 20) -> None:
    stop = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        stop.wait(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def test_one_indexer_per_chain_the_other_stands_by_and_takes_over(engine, chain, giftable, fans, caplog):
    """Two processes with the indexer on (here two threads, each with its own lease) never race on the cursor:
    one indexes, the other stands by, and takes over when the first stops."""
    first, second = (Indexer(engine, chain, confirmations=0, poll_interval=0.05) for _ in range(2))
    stops = [threading.Event(), threading.Event()]
    workers = [threading.Thread(target=i.run_forever, args=(s,)) for i, s in zip((first, second), stops)]
    try:
        workers[0].start()
        giftable.buy(0, 2, sender=fans[0])
        _wait_until(lambda: _indexed_to(engine) == chain.w3.eth.block_number, "the first indexer caught up")
        workers[1].start()
        _wait_until(lambda: second.standing_by, "the second indexer stood by")
        giftable.buy(0, 1, sender=fans[1])
        _wait_until(lambda: _indexed_to(engine) == chain.w3.eth.block_number, "the first indexer followed")
        assert second.standing_by and not first.standing_by

        stops[0].set()
        workers[0].join(10)
        giftable.buy(0, 1, sender=fans[2])
        _wait_until(lambda: _indexed_to(engine) == chain.w3.eth.block_number, "the second indexer took over")
        assert not second.standing_by
    finally:
        for stop in stops:
            stop.set()
        for worker in workers:
            if worker.ident is not None:
                worker.join(10)
    assert not any(w.is_alive() for w in workers)
    assert "poll failed" not in caplog.text
    assert_equals_chain(engine, chain, giftable)


def test_check_ins_and_badges_are_recorded_and_revocations_followed(
    engine, chain, make_event, register, organiser, fans, new_fan
):
    collection = make_event(gifts_allowed=True)
    event = register(collection)
    fan = new_fan()
    two = collection.buy(0, 2, sender=fans[0])
    one = collection.buy(1, 1, sender=fans[1])
    gifted = collection.buy(0, 1, sender=fans[2])
    collection.gift(gifted[0], fan["address"], sender=fans[2])  # held in a gateway fan's custodial account
    unused = collection.buy(0, 1, sender=fans[3])
    admitted, skipped = collection.check_in([*two, *one, gifted[0]], sender=organiser)
    assert sorted(admitted) == sorted([*two, *one, gifted[0]]) and not skipped
    indexer = Indexer(engine, chain, confirmations=0)
    stats = indexer.poll_once()
    assert stats.checkins == 4 and stats.badges == 3
    tickets = {r["token_id"]: r["id"] for r in rows(engine, Ticket, Ticket.contract == collection.address)}
    checkins = {r["token_id"]: r for r in rows(engine, Checkin, Checkin.contract == collection.address)}
    assert sorted(checkins) == sorted(admitted) and unused[0] not in checkins
    holders = {
        two[0]: fans[0].address,
        two[1]: fans[0].address,
        one[0]: fans[1].address,
        gifted[0]: fan["address"],
    }
    for token_id, checkin in checkins.items():
        assert str(checkin["event_id"]) == event["id"] and checkin["ticket_id"] == tickets[token_id]
        assert checkin["holder"] == holders[token_id] and checkin["chain_id"] == chain.chain_id
        assert checkin["block_number"] > 0 and checkin["tx_hash"].startswith("0x")
    badge = collection.badge()
    badges = {r["holder"]: r for r in rows(engine, Badge, Badge.contract == badge.address)}
    assert sorted(badges) == sorted({fans[0].address, fans[1].address, fan["address"]})  # one per holder
    badge_event = badge.event_id_of(collection.address)
    for holder, row in badges.items():
        assert row["token_id"] == str(badge.badge_id(badge_event, holder)) and int(row["token_id"]) > 2**64
        assert str(row["event_id"]) == event["id"] and row["revoked"] is False
        assert row["block_number"] == checkins[two[0]]["block_number"]
    assert str(badges[fan["address"]]["fan_id"]) == fan["id"]
    with engine.connect() as conn:  # without the check-in in the same batch, the badge names its issuer
        assert (
            str(indexer._badge_event(conn, badge.address, badges[fan["address"]]["token_id"])) == event["id"]
        )
    assert badges[fans[0].address]["fan_id"] is None
    # a revocation marks the badge; a later check-in of another holder adds one
    badge.revoke(int(badges[fans[1].address]["token_id"]), sender=organiser)
    collection.check_in(unused, sender=organiser)
    stats = indexer.poll_once()
    assert stats.checkins == 1 and stats.badges == 1
    badges = {r["holder"]: r for r in rows(engine, Badge, Badge.contract == badge.address)}
    assert badges[fans[1].address]["revoked"] is True and badge.balance_of(fans[1].address) == 0
    assert [h for h, r in badges.items() if r["revoked"]] == [fans[1].address]
    assert fans[3].address in badges and len(rows(engine, Checkin)) == 5
    assert indexer.poll_once().events == 0 and len(rows(engine, Badge)) == 4


def test_a_reorg_removes_orphaned_check_ins_and_badges(engine, chain, giftable, fans, organiser):
    indexer = Indexer(engine, chain, confirmations=0)
    kept = giftable.buy(0, 1, sender=fans[0])
    giftable.check_in(kept, sender=organiser)
    indexer.poll_once()
    badge = giftable.badge()
    [kept_badge] = rows(engine, Badge, Badge.contract == badge.address)
    [kept_checkin] = rows(engine, Checkin)
    snapshot, fork_point = chain.snapshot(), chain.w3.eth.block_number
    orphan = giftable.buy(0, 2, sender=fans[1])
    giftable.check_in(orphan, sender=organiser)
    badge.revoke(int(kept_badge["token_id"]), sender=organiser)
    indexer.poll_once()
    assert len(rows(engine, Checkin)) == 3 and len(rows(engine, Badge)) == 2
    assert rows(engine, Badge, Badge.id == kept_badge["id"])[0]["revoked"] is True
    chain.revert_to(snapshot)
    mine(chain, 5)  # a longer history without the orphaned check-ins and the revocation
    stats = indexer.poll_once()
    assert stats.reorgs == 1 and stats.rolled_back_events > 0
    assert rows(engine, Checkin) == [kept_checkin]
    [badge_row] = rows(engine, Badge)
    assert (
        badge_row == kept_badge and badge_row["revoked"] is False and badge_row["block_number"] <= fork_point
    )
    assert badge.balance_of(fans[0].address) == 1 and badge.balance_of(fans[1].address) == 0
    assert_equals_chain(engine, chain, giftable)
    # the new history checks the orphaned buyer in after all: indexed again, fresh rows
    again = giftable.buy(0, 1, sender=fans[1])
    giftable.check_in(again, sender=organiser)
    stats = indexer.poll_once()
    assert stats.reorgs == 0 and stats.checkins == 1 and stats.badges == 1
    assert len(rows(engine, Checkin)) == 2 and {r["holder"] for r in rows(engine, Badge)} == {
        fans[0].address,
        fans[1].address,
    }


def _tiers(client, org, event_id):
    return {
        t["tier_id"]: t for t in client.get(f"/events/{event_id}", headers=org["headers"]).json()["tiers"]
    }


def test_tiers_added_or_changed_on_chain_reach_the_gateway(
    engine, chain, make_event, register, client, org, organiser
):
    import ticketkit as tk

    collection = make_event()
    event = register(collection)
    indexer = Indexer(engine, chain, confirmations=0)
    indexer.poll_once()
    before = _tiers(client, org, event["id"])
    old = collection.tier(0)
    now = chain.timestamp()
    collection.update_tier(
        0,
        tk.TierConfig(
            old.name,
            face_value=old.face_value,
            supply=old.supply + 5,
            max_per_wallet=7,
            sale_start=now,
            sale_end=now + 86400,
        ),
        sender=organiser,
    )
    added = collection.add_tier(
        tk.TierConfig("Balcony", face_value=ETH // 20, supply=30, sale_start=now, sale_end=now + 86400),
        sender=organiser,
    )
    assert _tiers(client, org, event["id"]) == before  # nothing read yet
    stats = indexer.poll_once()
    assert stats.tiers == 2
    after = _tiers(client, org, event["id"])
    assert (after[0]["supply"], after[0]["max_per_wallet"]) == (old.supply + 5, 7)
    assert after[added] == {
        "tier_id": added,
        "name": "Balcony",
        "face_value_wei": str(ETH // 20),
        "supply": 30,
        "max_per_wallet": 0,
    }
    assert indexer.poll_once().tiers == 0  # once


def test_an_organiser_refreshes_tiers_without_the_indexer(
    chain, make_event, register, client, org, organiser
):
    import ticketkit as tk

    collection = make_event()
    event = register(collection)
    now = chain.timestamp()
    added = collection.add_tier(
        tk.TierConfig("Late", face_value=1, supply=3, sale_start=now, sale_end=now + 60), sender=organiser
    )
    assert added not in _tiers(client, org, event["id"])
    response = client.post(f"/events/{event['id']}/tiers/refresh", headers=org["headers"])
    assert response.status_code == 200, response.text
    assert {t["tier_id"]: t["name"] for t in response.json()["tiers"]}[added] == "Late"
    stranger = {"Authorization": f"Bearer {client.post('/organisers', json={'name': 'x'}).json()['api_key']}"}
    refused = client.post(f"/events/{event['id']}/tiers/refresh", headers=stranger)
    assert refused.status_code == 404 and refused.json()["error"] == "event_not_found"
