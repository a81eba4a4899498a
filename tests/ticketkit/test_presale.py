"""ticketkit.presale: the OpenZeppelin-compatible Merkle tree, eligibility at a block from the chain, and the
snapshot the contract's buyWithProof accepts; the CLI and script that publish it. On a real anvil."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner
from web3 import Web3

import ticketkit as tk
from ticketkit import errors
from ticketkit.cli import app
from ticketkit.presale import (
    Snapshot,
    eligible_holders,
    leaf_hash,
    merkle_proof,
    merkle_root,
    merkle_tree,
    take_snapshot,
    verify_proof,
)

ROOT = Path(__file__).resolve().parents[2]
OZ_TREE = ROOT / "node_modules" / "@openzeppelin" / "merkle-tree"
GENERAL = 0
DAY = 86400

# @openzeppelin/merkle-tree (devDependency): its StandardMerkleTree root and every proof, as JSON.
_OZ_SCRIPT = """
const {StandardMerkleTree} = require(process.argv[1]);
const addresses = JSON.parse(process.argv[2]);
const tree = StandardMerkleTree.of(addresses.map(a => [a]), ["address"]);
console.log(JSON.stringify({root: tree.root, proofs: addresses.map(a => tree.getProof([a]))}));
"""


def _oz(addresses):
    if shutil.which("node") is None or not OZ_TREE.exists():
        pytest.fail(
            "node or @openzeppelin/merkle-tree missing: run make deps (npm ci installs devDependencies)"
        )
    out = subprocess.run(
        ["node", "-e", _OZ_SCRIPT, str(OZ_TREE), json.dumps(addresses)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return json.loads(out)


def _hex(values):
    return ["0x" + bytes(v).hex() for v in values]


# ------------------------------------------------------------------ the tree


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 13])
def test_root_and_proofs_equal_openzeppelin_merkle_tree(size):
    addresses = [Account.create().address for _ in range(size)]
    oz = _oz(addresses)
    root = merkle_root(addresses)
    assert "0x" + root.hex() == oz["root"]
    for address, proof in zip(addresses, oz["proofs"]):
        mine = merkle_proof(addresses, address)
        assert _hex(mine) == proof
        assert verify_proof(root, address, mine)
    # order, case and duplicates do not change the set
    shuffled = [a.lower() for a in reversed(addresses)] + addresses[:1]
    assert merkle_root(shuffled) == root


def test_tree_layout_leaves_and_refusals():
    a, b, c = (Account.create().address for _ in range(3))
    # the leaf is hashed twice, as the contract checks it: keccak256(bytes.concat(keccak256(abi.encode(a))))
    assert leaf_hash(a) == Web3.keccak(Web3.keccak(bytes(12) + bytes.fromhex(a[2:])))
    tree = merkle_tree([a, b, c])
    assert len(tree) == 5 and sorted(tree[2:]) == sorted(leaf_hash(x) for x in (a, b, c))
    assert tree[2:] == sorted(tree[2:], reverse=True)  # leaf i at tree[len-1-i], leaves sorted ascending
    assert merkle_root([a]) == leaf_hash(a) and merkle_proof([a], a) == []
    assert merkle_root([]) == tk.presale.ZERO_ROOT
    root = merkle_root([a, b])
    assert not verify_proof(root, c, merkle_proof([a, b], a))
    assert not verify_proof(root, a, [b"\x11" * 32])
    with pytest.raises(errors.InvalidInput):
        merkle_proof([a, b], c)
    with pytest.raises(errors.InvalidInput):
        merkle_root([a, "0x1234"])


# ------------------------------------------------------------------ eligibility at a block


@pytest.fixture()
def history(chain, platform, organiser, fans, make_event):
    """Three earlier events on one badge contract, badges minted by the batch check-in:
    alice attended all three, bob the first two, carol the first, dave the last two."""
    alice, bob, carol, dave = fans[:4]
    badge = platform.create_badge("Badges", "BDG", salt="presale-history", sender=organiser)
    past = [make_event(badge=badge) for _ in range(3)]
    for event, attendees in zip(past, ([alice, bob, carol], [alice, bob, dave], [alice, dave])):
        tokens = [event.buy(GENERAL, 1, sender=fan)[0] for fan in attendees]
        admitted, _ = event.check_in(tokens, sender=organiser)
        assert admitted == tokens
    ids = [badge.event_id_of(event.address) for event in past]
    assert [badge.attended_count(f.address, ids) for f in (alice, bob, carol, dave)] == [3, 2, 1, 2]
    return badge, past, ids


def _addresses(*accounts):
    return sorted((a.address for a in accounts), key=str.lower)


def test_eligible_holders_k_of_list_and_revoked_badges(chain, organiser, fans, history):
    badge, _, ids = history
    alice, bob, carol, dave = fans[:4]
    assert eligible_holders(chain, badge.address, ids, 2) == _addresses(alice, bob, dave)
    assert eligible_holders(chain, badge.address, ids, 1) == _addresses(alice, bob, carol, dave)
    assert eligible_holders(chain, badge.address, ids, 3) == _addresses(alice)
    assert eligible_holders(chain, badge.address, ids[1:], 2) == _addresses(alice, dave)
    before = chain.w3.eth.block_number
    badge.revoke(badge.badge_id(ids[2], dave.address), sender=organiser)  # burnt: no longer counts
    assert eligible_holders(chain, badge.address, ids, 2) == _addresses(alice, bob)
    assert eligible_holders(chain, badge.address, ids, 2, before) == _addresses(alice, bob, dave)
    # a scan started anywhere before the first badge gives the same answer as the default
    assert eligible_holders(chain, badge.address, ids, 1, from_block=0) == eligible_holders(
        chain, badge.address, ids, 1
    )


def test_snapshot_at_a_block_is_fixed_and_recomputable_from_the_chain(chain, organiser, fans, history):
    badge, past, ids = history
    alice, bob, carol, dave = fans[:4]
    snap = take_snapshot(chain, badge.address, ids, 2)
    block = snap.block
    assert snap.addresses == tuple(_addresses(alice, bob, dave)) and snap.root == merkle_root(snap.addresses)

    # After B: carol gets a second badge, dave loses one. The snapshot at B does not move; the head does.
    [token] = past[1].buy(GENERAL, 1, sender=carol)
    past[1].check_in([token], sender=organiser)
    badge.revoke(badge.badge_id(ids[2], dave.address), sender=organiser)
    again = take_snapshot(chain, badge.address, ids, 2, block)
    assert (again.block, again.root, again.addresses) == (block, snap.root, snap.addresses)
    now = take_snapshot(chain, badge.address, ids, 2)
    assert now.addresses == tuple(_addresses(alice, bob, carol)) and now.root != snap.root

    # Independently of ticketkit.presale: fold the badge's mints and burns up to B from raw logs, count, and
    # let OpenZeppelin's JS build the tree.
    transfer = Web3.keccak(text="Transfer(address,address,uint256)")
    logs = chain.w3.eth.get_logs(
        {"address": badge.address, "fromBlock": 0, "toBlock": block, "topics": [transfer.to_0x_hex()]}
    )
    held: Counter[tuple[str, int]] = Counter()
    for log in logs:
        sender, receiver = ("0x" + bytes(t)[-20:].hex() for t in log["topics"][1:3])
        token_id = int.from_bytes(bytes(log["topics"][3]), "big")
        zero = "0x" + "00" * 20
        if sender == zero:
            held[(Web3.to_checksum_address(receiver), token_id >> 160)] += 1
        if receiver == zero:
            held[(Web3.to_checksum_address(sender), token_id >> 160)] -= 1
    counts = Counter(holder for (holder, event_id), n in held.items() if n > 0 and event_id in ids)
    independent = sorted(holder for holder, n in counts.items() if n >= 2)
    assert independent == list(snap.addresses)
    assert _oz(independent)["root"] == "0x" + snap.root.hex()

    # the JSON form round-trips and refuses a root its addresses do not give
    assert Snapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap
    with pytest.raises(errors.InvalidInput):
        Snapshot.from_dict(snap.to_dict() | {"root": "0x" + now.root.hex()})


def test_buy_with_proof_after_the_root_is_published_and_the_badge_path_still_works(
    chain, make_event, organiser, fans, history
):
    badge, past, ids = history
    alice, _bob, carol, dave, outsider = fans[:5]
    event = make_event(badge=badge)
    snap = take_snapshot(chain, badge.address, ids, 2)
    # after the snapshot, dave's badge is revoked and carol earns a second one
    badge.revoke(badge.badge_id(ids[2], dave.address), sender=organiser)
    [token] = past[1].buy(GENERAL, 1, sender=carol)
    past[1].check_in([token], sender=organiser)
    ends_at = chain.timestamp() + DAY
    event.set_presale(
        GENERAL, ends_at=ends_at, min_events=2, event_ids=ids, merkle_root=snap.root, sender=organiser
    )
    assert event.tier(GENERAL).presale_root == snap.root

    # dave is on the snapshot: no longer eligible by badges, but his proof gets him in
    assert not event.presale_eligible(GENERAL, dave.address)
    with pytest.raises(errors.PresaleNotEligible) as info:
        event.buy(GENERAL, 1, sender=dave)
    assert (info.value.tierId, info.value.buyer) == (GENERAL, dave.address)
    assert len(event.buy(GENERAL, 1, sender=dave, proof=snap.proof(dave.address))) == 1
    # carol is not on it, but passes the badge rule kept beside the root
    assert carol.address not in snap and event.presale_eligible(GENERAL, carol.address)
    assert len(event.buy(GENERAL, 1, sender=carol)) == 1
    # someone on neither: refused with or without somebody else's proof
    for proof in (None, snap.proof(alice.address)):
        with pytest.raises(errors.PresaleNotEligible) as info:
            event.buy(GENERAL, 1, sender=outsider, proof=proof)
        assert (info.value.tierId, info.value.buyer) == (GENERAL, outsider.address)
    with pytest.raises(errors.InvalidInput):
        snap.proof(outsider.address)


def test_bad_rules_and_blocks_are_refused_before_any_call(chain, history):
    badge, _, ids = history
    head = chain.w3.eth.block_number
    for args, where in (
        ((ids, 4), "min_events"),
        ((ids, 0), "min_events"),
        (([], 1), "event_ids"),
        (([ids[0], ids[0]], 1), "event_ids"),
        (([0], 1), "event_ids"),
    ):
        with pytest.raises(errors.InvalidInput) as info:
            eligible_holders(chain, badge.address, *args)
        assert info.value.where == where
    with pytest.raises(errors.InvalidInput) as info:
        take_snapshot(chain, badge.address, ids, 1, head + 10)
    assert info.value.where == "block"
    with pytest.raises(errors.InvalidInput) as info:
        take_snapshot(chain, "0xnotanaddress", ids, 1)
    assert info.value.where == "badge"
    # before the badge contract existed nobody held anything
    assert take_snapshot(chain, badge.address, ids, 1, 1).addresses == ()


# ------------------------------------------------------------------ the CLI and the script


@pytest.fixture()
def cli(chain):
    runner = CliRunner()
    env = {
        "TICKETKIT_PRIVATE_KEY": tk.ANVIL_KEYS[0],
        "TICKETKIT_RPC": chain.url,
        "COLUMNS": "200",
        "TICKETKIT_KEYSTORE": None,
        "TICKETKIT_CHAIN_ID": None,
    }

    def run(*args, expect=0):
        result = runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)
        chain.reset_nonce(chain.account(0).address)  # the CLI sent from the organiser's account too
        assert result.exit_code == expect, (result.stdout, result.stderr)
        return result

    return run


def test_cli_presale_snapshot_writes_checks_and_publishes(
    chain, cli, make_event, organiser, fans, history, tmp_path
):
    badge, _past, ids = history
    event = make_event(badge=badge)
    block = chain.w3.eth.block_number
    expected = take_snapshot(chain, badge.address, ids, 2, block)
    events = ",".join(map(str, ids))
    out = tmp_path / "snapshot.json"
    result = cli(
        "presale-snapshot",
        event.address,
        "--tier",
        "General",
        "--min-events",
        2,
        "--events",
        events,
        "--block",
        block,
        "--out",
        out,
    )
    assert f"at block {block}: 3 eligible" in result.stdout and "0x" + expected.root.hex() in result.stdout
    data = json.loads(out.read_text())
    assert (data["collection"], data["tier_id"], data["chain_id"]) == (event.address, GENERAL, chain.chain_id)
    assert Snapshot.from_dict(data) == expected
    assert event.tier(GENERAL).presale_root == tk.presale.ZERO_ROOT  # not published without --publish

    wrong = cli(
        "presale-snapshot",
        event.address,
        "--tier",
        0,
        "--min-events",
        2,
        "--events",
        events,
        "--block",
        block,
        "--expect-root",
        "0x" + "11" * 32,
        "--publish",
        "--ends",
        "2099-01-01T00:00Z",
        expect=2,
    )
    assert wrong.stderr.startswith("error [invalid_input]: --expect-root: ")
    assert event.tier(GENERAL).presale_root == tk.presale.ZERO_ROOT

    cli(
        "presale-snapshot",
        event.address,
        "--tier",
        0,
        "--min-events",
        2,
        "--events",
        events,
        "--block",
        block,
        "--expect-root",
        "0x" + expected.root.hex(),
        "--publish",
        "--ends",
        "2099-01-01T00:00Z",
    )
    tier = event.tier(GENERAL)
    assert (tier.presale_root, tier.presale_min_events, tier.presale_events) == (expected.root, 2, tuple(ids))
    dave = fans[3]
    assert len(event.buy(GENERAL, 1, sender=dave, proof=expected.proof(dave.address))) == 1

    missing = cli(
        "presale-snapshot",
        event.address,
        "--tier",
        0,
        "--min-events",
        2,
        "--events",
        events,
        "--publish",
        expect=2,
    )
    assert missing.stderr.startswith("error [invalid_input]: --ends: ")


def test_open_presale_script_publishes_a_snapshot_with_plain_python(
    chain, make_event, organiser, fans, history
):
    badge, _, ids = history
    event = make_event(badge=badge)
    block = chain.w3.eth.block_number
    env = {"PATH": "/usr/bin:/bin", "TICKETKIT_RPC": chain.url, "TICKETKIT_PRIVATE_KEY": tk.ANVIL_KEYS[0]}
    run = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            str(ROOT / "scripts" / "open_presale.py"),
            event.address,
            "--tier",
            "General",
            "--min-events",
            "3",
            "--events",
            ",".join(map(str, ids)),
            "--ends",
            "2099-01-01T00:00Z",
            "--snapshot",
            "--block",
            str(block),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    chain.reset_nonce(organiser.address)
    assert run.returncode == 0, run.stderr
    expected = take_snapshot(chain, badge.address, ids, 3, block)
    assert expected.addresses == (fans[0].address,)
    assert f"snapshot at block {block}: 1 eligible, root 0x{expected.root.hex()}" in run.stdout
    assert event.tier(GENERAL).presale_root == expected.root
    assert event.tier(GENERAL).presale_min_events == 3
