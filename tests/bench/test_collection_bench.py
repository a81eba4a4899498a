"""The 10k-collection benchmark runs and counts right (on a small size; no timing asserted)."""

from bench import collection_10k


def test_collection_bench_mints_exactly_the_requested_tickets():
    result = collection_10k.measure(tickets=250, chunk_size=100)
    assert result["tickets"] == 250 and result["transactions"] == 3
    assert 44_000 < result["gas_per_ticket"] < 60_000
