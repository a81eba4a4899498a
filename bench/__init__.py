"""Benchmarks of ticketkit's contracts (gas) — run `python -m bench.gas_report`."""
