import pytest

import ticketkit as tk
from tests.utils import ETH
from ticketkit import errors


def test_buy_resell_checkin(chain, event, organiser, fans):
    alice, bob = fans[0], fans[1]
    [token] = event.buy(0, 1, sender=alice)
    cap = event.resale_cap_of(token)
    assert cap == ETH // 10 * 11_000 // 10_000
    with pytest.raises(errors.PriceAboveCap) as info:
        event.list_for_resale(token, cap + 1, sender=alice)
    assert info.value.cap == cap and info.value.price == cap + 1
    event.list_for_resale(token, cap, sender=alice)
    event.buy_resale(token, sender=bob)
    assert event.owner_of(token) == bob.address
    admitted, skipped = event.check_in([token, token], sender=organiser)
    assert admitted == [token] and skipped == {token: tk.SKIP_ALREADY_USED}
    badge = event.badge()
    assert badge.has_attended(bob.address, badge.event_id_of(event.address))
