"""ERC-4906: the collection and the badge tell wallets when a token's metadata changes, on a real anvil."""

from __future__ import annotations

import pytest

from ticketkit import errors

ERC4906_ID = bytes.fromhex("49064906")
MAX = 2**256 - 1


def _updates(handle, receipt) -> list[int]:
    # Both contracts emit the same event: keep this contract's logs.
    return [
        e["args"]["_tokenId"]
        for e in handle.events(receipt, "MetadataUpdate")
        if e["address"] == handle.address
    ]


def test_both_contracts_report_the_erc4906_interface_id(event):
    assert event.contract.functions.supportsInterface(ERC4906_ID).call() is True
    assert event.badge().contract.functions.supportsInterface(ERC4906_ID).call() is True


def test_check_in_updates_each_admitted_ticket_and_its_new_badge(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [a] = event.buy(0, 1, sender=alice)
    [b] = event.buy(0, 1, sender=bob)
    badge = event.badge()
    event_id = badge.event_id_of(event.address)
    receipt = chain.send(event.contract.functions.checkIn([a, b, a]), organiser)  # a duplicate is skipped
    assert _updates(event, receipt) == [a, b]
    assert _updates(badge, receipt) == [
        badge.badge_id(event_id, alice.address),
        badge.badge_id(event_id, bob.address),
    ]

    # Nothing was admitted: no update.
    again = chain.send(event.contract.functions.checkIn([a]), organiser)
    assert _updates(event, again) == [] and _updates(badge, again) == []


def test_revoking_a_badge_updates_it(chain, event, organiser, fans):
    [a] = event.buy(0, 1, sender=fans[0])
    event.check_in([a], sender=organiser)
    badge = event.badge()
    token = badge.badge_id(badge.event_id_of(event.address), fans[0].address)
    assert _updates(badge, badge.revoke(token, sender=organiser)) == [token]


@pytest.mark.parametrize("which", ["collection", "badge"])
def test_set_base_uri_moves_every_token_uri_and_emits_batch_update(chain, event, organiser, fans, which):
    [a] = event.buy(0, 1, sender=fans[0])
    event.check_in([a], sender=organiser)
    badge = event.badge()
    handle, token, first = (
        (event, a, 1)
        if which == "collection"
        else (badge, badge.badge_id(badge.event_id_of(event.address), fans[0].address), 0)
    )
    receipt = handle.set_base_uri("https://gw.example/metadata/x/", sender=organiser)
    [batch] = handle.events(receipt, "BatchMetadataUpdate")
    assert (batch["args"]["_fromTokenId"], batch["args"]["_toTokenId"]) == (first, MAX)
    assert handle.token_uri(token) == f"https://gw.example/metadata/x/{token}"
    with pytest.raises(errors.AccessControlUnauthorizedAccount):
        handle.set_base_uri("https://evil.example/", sender=fans[0])
