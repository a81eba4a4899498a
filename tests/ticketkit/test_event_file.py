"""Event TOML files: valid files become contract configs; every mistake names its field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketkit.errors import InvalidInput
from ticketkit.event_file import load_event_file, parse_amount, parse_event_toml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "event.toml"

GOOD = """\
[event]
name = "Test gig"
symbol = "TG"
start = 2027-06-12T20:00:00+01:00
transfer_lock = "2027-06-12T18:00:00+01:00"
resale_cap_percent = 110
royalty_percent = 2.5
gifts_allowed = false
base_uri = "ipfs://x/"

[[tiers]]
name = "General"
face_value = "0.05 ETH"
supply = 100
max_per_wallet = 4
sale_start = 2027-03-01T10:00:00Z
sale_end = 2027-06-12T17:00:00Z

[[tiers]]
name = "VIP"
face_value = 1000
supply = 10
max_per_wallet = 0
sale_start = 2027-03-01T10:00:00Z
sale_end = 2027-06-12T17:00:00Z

  [tiers.presale]
  min_events = 1
  event_ids = [1, 2]
  ends = 2027-03-02T10:00:00Z
"""


def _error(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse_event_toml(text, source="gig.toml")
    return info.value


def test_example_file_loads_and_converts():
    spec = load_event_file(EXAMPLE)
    event, tiers = spec.to_configs()
    assert event.resale_cap_bps == 11_000 and event.royalty_bps == 500
    assert event.transfer_lock_time <= event.start_time
    assert len(tiers) == 2 and tiers[0].face_value == 5 * 10**16
    assert spec.tiers[0].presale is not None


def test_configs_convert_units():
    spec = parse_event_toml(GOOD)
    event, tiers = spec.to_configs()
    assert event.start_time == 1812826800 and event.transfer_lock_time == 1812819600
    assert event.royalty_bps == 250 and event.base_uri == "ipfs://x/" and event.gifts_allowed is False
    assert tiers[0].face_value == 5 * 10**16 and tiers[1].face_value == 1000
    assert tiers[0].max_per_wallet == 4 and tiers[1].supply == 10
    assert spec.tiers[1].presale.event_ids == [1, 2]


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [
        ("supply = 10\n", "supply = 0\n", "tiers[1].supply", 22),
        ("royalty_percent = 2.5", "royalty_percent = 51", "event.royalty_percent", 7),
        ("resale_cap_percent = 110", "resale_cap_percent = 90", "event.resale_cap_percent", 6),
        (
            'transfer_lock = "2027-06-12T18:00:00+01:00"',
            'transfer_lock = "2027-06-12T22:00:00+01:00"',
            "event.transfer_lock",
            5,
        ),
        (
            "sale_end = 2027-06-12T17:00:00Z\n\n[[tiers]]",
            "sale_end = 2026-06-12T17:00:00Z\n\n[[tiers]]",
            "tiers[0].sale_end",
            17,
        ),
        ('face_value = "0.05 ETH"', 'face_value = "0.05 DOGE"', "tiers[0].face_value", 13),
        ("min_events = 1", "min_events = 3", "tiers[1].presale.event_ids", 29),
        ("start = 2027-06-12T20:00:00+01:00", "start = 2027-06-12T20:00:00", "event.start", 4),
        ("gifts_allowed = false", "gifts_allowed = false\ncolour = 'red'", "event.colour", 9),
    ],
)
def test_errors_name_field_and_line(old, new, field, line):
    assert old in GOOD
    error = _error(GOOD.replace(old, new, 1))
    assert error.where == f"gig.toml:{line}: {field}"
    assert f"gig.toml:{line}" in str(error) and field in str(error)


def test_missing_field_points_at_its_table():
    error = _error(GOOD.replace('symbol = "TG"\n', ""))
    assert error.where == "gig.toml:1: event.symbol"
    assert "required" in str(error)


def test_duplicate_tier_names_refused():
    error = _error(GOOD.replace('name = "VIP"', 'name = "General"'))
    assert "tiers" in error.where and "unique" in str(error)


def test_toml_syntax_error_has_line():
    error = _error(GOOD.replace('[[tiers]]\nname = "VIP"', '[[tiers]\nname = "VIP"'))
    assert error.where == "gig.toml:19"


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInput) as info:
        load_event_file(tmp_path / "nope.toml")
    assert "nope.toml" in str(info.value)


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("0.05 ETH", 5 * 10**16),
        ("1 eth", 10**18),
        ("20 gwei", 2 * 10**10),
        ("7 wei", 7),
        ("7", 7),
        (12, 12),
        ("1_000 wei", 1000),
    ],
)
def test_parse_amount(text, wei):
    assert parse_amount(text) == wei


@pytest.mark.parametrize("text", ["0.1 wei", "-1", "abc", True, 1.5, "1e18", str(2**96)])
def test_parse_amount_refuses(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_deploy_with_a_gateway_url_points_token_uris_at_its_metadata(chain, organiser, fans):
    import ticketkit as tk
    from ticketkit.event_file import deploy_event

    spec = parse_event_toml(GOOD)
    done = deploy_event(chain, spec, organiser, gateway_url="https://gw.example/")
    [token] = done.collection.mint_batch(0, [fans[0].address], sender=organiser)
    base = f"https://gw.example/metadata/{chain.chain_id}/{done.collection.address}/"
    assert tk.metadata_base_uri("https://gw.example/", chain.chain_id, done.collection.address) == base
    assert done.collection.token_uri(token) == f"{base}{token}"  # not the file's ipfs://x/
    done.collection.check_in([token], sender=organiser)
    badge_id = done.badge.badge_id(done.badge.event_id_of(done.collection.address), fans[0].address)
    assert done.badge.token_uri(badge_id).startswith(
        f"https://gw.example/metadata/{chain.chain_id}/{done.badge.address}/"
    )

    # Deployed already: the same command with another URL re-points both (setBaseURI).
    again = deploy_event(
        chain, spec, organiser, factory=done.platform.address, gateway_url="https://new.example"
    )
    assert again.collection_existed and again.collection.token_uri(token).startswith(
        "https://new.example/metadata/"
    )
    assert again.badge.token_uri(badge_id).startswith("https://new.example/metadata/")
    with pytest.raises(InvalidInput, match="https://"):
        deploy_event(chain, spec, organiser, factory=done.platform.address, gateway_url="gw.example")
