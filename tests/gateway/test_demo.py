from __future__ import annotations

from gateway import demo


def test_gateway_demo_summary():
    summary = demo.run()
    assert summary["issued"] == [1, 2]
    assert summary["holders"] == {1: "bob", 2: "carol"}
    assert summary["gift_status"] == "done" and summary["resale_status"] == "done"
    assert summary["listed"] == 1 and summary["resale_price_wei"] == summary["cap_wei"] > 0
    assert summary["over_cap_refused"] == "price_above_cap"
    assert summary["gate"] == {
        "bob's code": "admit",
        "bob's code again": "already_checked_in",
        "a screenshot from 2 min ago": "expired_code",
        "alice's code for the ticket she sold": "not_owner",
    }
    assert summary["checked_in_on_chain"] == 1 and summary["badge"] is True
