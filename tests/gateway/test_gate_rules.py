"""The gate's one rule list (gateway/core/gate_rules.py) against the shared vectors (gate_vectors.json),
offline (as a scanner decides from a snapshot) and online; the browser runs the same file
(test_door_pages.py)."""

from __future__ import annotations

import json

import pytest

from gateway.core import gate_rules
from gateway.core.gate_rules import Rules

from . import gate_vectors

VECTORS = json.loads(gate_vectors.PATH.read_text())
CASES = [(suite, case) for suite in VECTORS["suites"] for case in suite["cases"]]


def test_the_vectors_file_is_what_the_generator_writes():
    """Regenerate it (python -m tests.gateway.gate_vectors) when a rule changes; the codes themselves are
    random (ECDSA), so compare everything else."""

    def strip(data):
        return [
            (
                [{k: v for k, v in case.items() if k != "code"} for case in suite["cases"]],
                {k: v for k, v in suite.items() if k != "cases"},
            )
            for suite in data["suites"]
        ]

    assert strip(gate_vectors.build()) == strip(VECTORS)
    assert VECTORS["suites"][0]["rules"]["order"] == list(gate_rules.ORDER)


def _lookup(suite):
    tickets = {row[0]: row for row in suite["tickets"]}

    def lookup(ticket_id):
        row = tickets.get(gate_rules.list_id(ticket_id))
        return (
            None
            if row is None
            else gate_rules.state_from_snapshot(
                row, ticket_id, cancelled=suite["cancelled"], local=suite["local"]
            )
        )

    return lookup


@pytest.mark.parametrize(("suite", "case"), CASES, ids=[f"{s['name']}: {c['name']}" for s, c in CASES])
def test_vector(suite, case):
    rules = Rules.from_json(suite["rules"])
    offline = gate_rules.decide(
        case["code"],
        now=VECTORS["now"],
        rules=rules,
        lookup=_lookup(suite),
        direction=case["direction"],
        offline=True,
    )
    assert (offline.reason, offline.unverified) == (case["expect"], case["unverified"])
    online = gate_rules.decide(
        case["code"], now=VECTORS["now"], rules=rules, lookup=_lookup(suite), direction=case["direction"]
    )
    assert online.reason == case.get("online", case["expect"])
    assert online.unverified is False


def test_rules_check_their_parameters():
    with pytest.raises(ValueError, match="unknown time zone"):
        gate_rules.day_of(0, "Mars/Olympus")
    assert gate_rules.day_of(VECTORS["now"], "Europe/London") == "2026-07-04"
    assert gate_rules.day_of(VECTORS["now"], "UTC") == "2026-07-03"
    assert Rules.from_json(Rules(entry_policy="days", days=("2026-07-03",)).as_json()) == Rules(
        entry_policy="days", days=("2026-07-03",)
    )
