"""Deploy a collection and mint 10,000 tickets to distinct holders through the library, on anvil.

    python -m bench.collection_10k [--tickets 10000] [--out bench/results/collection_10k.json]

Reports wall time (deploy + mint, from the first transaction to the last receipt) and gas per ticket.
A benchmark, not a test: figures vary with the machine; nothing asserts on time. The holders' addresses
are drawn before the clock starts; the timed part is `create_collection` and `mint_recipients` (plan,
job id, one gas estimate, signing, sending with up to MAX_IN_FLIGHT unconfirmed, confirmations).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from eth_utils import to_checksum_address

from ticketkit import EventConfig, TierConfig, deploy_platform, local_chain
from ticketkit.batch import Recipient, mint_recipients


def measure(tickets: int = 10_000, chunk_size: int = 200) -> dict[str, float]:
    holders = [to_checksum_address(os.urandom(20)) for _ in range(tickets)]  # random: new to the collection
    with local_chain() as chain:
        organiser = chain.account(0)
        platform = deploy_platform(chain, organiser)
        now = chain.timestamp()
        started = time.perf_counter()
        collection = platform.create_collection(
            EventConfig("Bench gig", "BENCH", start_time=now + 86400, transfer_lock_time=now + 86000),
            [TierConfig("General", face_value=10**16, supply=tickets, sale_start=now, sale_end=now + 86400)],
            salt="bench",
            sender=organiser,
        )
        deployed = time.perf_counter()
        block_before = chain.w3.eth.block_number
        report = mint_recipients(
            collection,
            [Recipient(h, 0, 1, i + 1) for i, h in enumerate(holders)],
            organiser,
            chunk_size=chunk_size,
        )
        finished = time.perf_counter()
        gas = sum(
            chain.w3.eth.get_block(n)["gasUsed"]
            for n in range(block_before + 1, chain.w3.eth.block_number + 1)
        )
        assert report.done and collection.total_minted() == tickets
    return {
        "tickets": tickets,
        "chunk_size": chunk_size,
        "deploy_s": round(deployed - started, 3),
        "mint_s": round(finished - deployed, 3),
        "total_s": round(finished - started, 3),
        "gas_per_ticket": round(gas / tickets),
        "transactions": len(report.transactions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=200)
    parser.add_argument("--out", default="bench/results/collection_10k.json")
    args = parser.parse_args()
    result = measure(args.tickets, args.chunk_size)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
