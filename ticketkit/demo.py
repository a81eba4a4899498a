"""`make demo`: one event's life on a local anvil, printed as it happens.

Deploys the platform, an organiser's badge and a collection; fans buy, one ticket moves through the
gateway on the holder's signature, one is resold under the cap (and an over-cap listing is refused),
the gate checks tickets in and the holders receive their soulbound badges.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from . import errors
from .chain import local_chain
from .contracts import EventConfig, TierConfig, deploy_platform

ETH = 10**18
console = Console()


def _eth(wei: int) -> str:
    return f"{wei / ETH:.4f} ETH"


def run() -> dict[str, object]:
    summary: dict[str, object] = {}
    with local_chain() as chain:
        console.print(f"[bold]local anvil[/] at {chain.url}, chain id {chain.chain_id}")
        organiser, gateway, alice, bob, carol = (chain.account(i) for i in range(5))
        platform = deploy_platform(chain, organiser)
        badge = platform.create_badge("Night Owls attendance", "OWL", salt="owl-badges", sender=organiser)
        now = chain.timestamp()
        event = platform.create_collection(
            EventConfig(
                "Night Owls live",
                "OWL1",
                start_time=now + 7 * 86400,
                transfer_lock_time=now + 7 * 86400 - 3600,
                resale_cap_bps=11_000,
                royalty_bps=500,
            ),
            [
                TierConfig(
                    "General",
                    face_value=ETH // 20,
                    supply=500,
                    sale_start=now,
                    sale_end=now + 7 * 86400,
                    max_per_wallet=4,
                ),
                TierConfig("VIP", face_value=ETH // 5, supply=50, sale_start=now, sale_end=now + 7 * 86400),
            ],
            salt="night-owls-live",
            badge=badge,
            sender=organiser,
        )
        console.print(
            f"collection [cyan]{event.address}[/] with {event.tier_count()} tiers; badge {badge.address}"
        )

        alice_tickets = event.buy(0, 2, sender=alice)
        [bob_vip] = event.buy(1, 1, sender=bob)
        console.print(f"alice bought General #{alice_tickets}, bob bought VIP #{bob_vip}")

        # A fan without a wallet: the gateway moves the ticket on the holder's signed authorization.
        event.grant_role("GATEWAY_ROLE", gateway.address, sender=organiser)
        deadline = chain.timestamp() + 600
        signature = event.sign_gateway_transfer(alice_tickets[1], carol.address, ETH // 20, deadline, alice)
        event.gateway_transfer(
            alice_tickets[1], carol.address, ETH // 20, deadline, signature, sender=gateway
        )
        console.print(f"gateway moved #{alice_tickets[1]} alice → carol at a declared face-value price")

        cap = event.resale_cap_of(bob_vip)
        try:
            event.list_for_resale(bob_vip, cap * 2, sender=bob)
            refused = None
        except errors.PriceAboveCap as refusal:
            refused = refusal
            console.print(
                f"[red]refused[/]: bob's listing at {_eth(refusal.price)} is over the cap {_eth(refusal.cap)}"
            )
        event.list_for_resale(bob_vip, cap, sender=bob)
        organiser_before, bob_before = chain.balance(organiser.address), chain.balance(bob.address)
        event.buy_resale(bob_vip, sender=carol)
        royalty = chain.balance(organiser.address) - organiser_before
        console.print(
            f"carol bought VIP #{bob_vip} on resale at {_eth(cap)}: bob got "
            f"{_eth(chain.balance(bob.address) - bob_before)}, organiser royalty {_eth(royalty)}"
        )

        admitted, skipped = event.check_in(
            [alice_tickets[0], alice_tickets[1], bob_vip, bob_vip], sender=organiser
        )
        event_id = badge.event_id_of(event.address)
        console.print(f"gate admitted {admitted}; skipped (already used) {sorted(skipped)}")

        table = Table(title="Night Owls live")
        for column in ("ticket", "tier", "holder", "used"):
            table.add_column(column)
        names: dict[str, str] = {alice.address: "alice", bob.address: "bob", carol.address: "carol"}
        for token_id in (*alice_tickets, bob_vip):
            t = event.ticket(token_id)
            table.add_row(
                f"#{token_id}", event.tier(t.tier_id).name, names[t.owner], "yes" if t.used else "no"
            )
        console.print(table)
        badges = {n: badge.has_attended(a, event_id) for a, n in names.items()}
        console.print(f"attendance badges (soulbound): {badges}")
        summary = {
            "collection": event.address,
            "admitted": admitted,
            "skipped": sorted(skipped),
            "over_cap_refused": refused is not None,
            "royalty_wei": royalty,
            "badges": badges,
        }
    return summary


if __name__ == "__main__":
    run()
