"""`make demo` runs end to end on a real anvil and reports what happened."""

from ticketkit import demo


def test_demo_runs_the_whole_event():
    summary = demo.run()
    assert summary["admitted"] == [1, 2, 3]
    assert summary["skipped"] == [3]  # the duplicate scan is reported, not admitted twice
    assert summary["over_cap_refused"] is True
    assert summary["royalty_wei"] == 2 * 10**17 * 11_000 // 10_000 * 500 // 10_000
    assert summary["badges"] == {"alice": True, "bob": False, "carol": True}
