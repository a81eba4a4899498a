"""The collection reports the standards it implements (ERC-165)."""

import pytest


@pytest.mark.parametrize(
    "interface_id, supported",
    [
        ("0x01ffc9a7", True),  # ERC-165
        ("0x80ac58cd", True),  # ERC-721
        ("0x5b5e139f", True),  # ERC-721 metadata
        ("0x2a55205a", True),  # ERC-2981 royalties
        ("0x7965db0b", True),  # AccessControl
        ("0xb45a3c0e", False),  # ERC-5192: tickets are not soulbound, badges are
        ("0xffffffff", False),  # ERC-165 says never
    ],
)
def test_collection_supports_interface(event, interface_id, supported):
    assert event.contract.functions.supportsInterface(bytes.fromhex(interface_id[2:])).call() is supported


def test_royalty_info_follows_the_event_config(event, organiser):
    receiver, amount = event.contract.functions.royaltyInfo(1, 10_000).call()
    assert (receiver, amount) == (organiser.address, 500)
