"""The indexer benchmark runs and counts right (on a small size; no timing asserted)."""

from bench import indexer


def test_indexer_bench_indexes_every_minted_ticket():
    result = indexer.measure(tickets=300, chunk_size=100, postgres=True)
    for backend in ("sqlite", "postgresql"):
        counts = result[backend]
        # one Transfer per ticket, one TicketsMinted per batch, the collection's one TierAdded
        assert counts["events"] == counts["chain_events"] == 300 + 3 + 1
        assert counts["tickets_created"] == counts["tickets"] == counts["indexed_tokens"] == 300
