"""A pytest plugin for `make soak`: counts the steps Hypothesis's state machines ran and fails the run if
there were fewer than SOAK_MIN_STEPS (default 0: count only).

    pytest -p tests.hardening.stepcount tests/contracts/test_invariants.py

Hypothesis checks a machine's invariants once when it is made and once after every step, so
steps = invariant checks - machines made.
"""

from __future__ import annotations

import os

import pytest
from hypothesis.stateful import RuleBasedStateMachine

_counts = {"checks": 0, "machines": 0}
_check_invariants = RuleBasedStateMachine.check_invariants
_init = RuleBasedStateMachine.__init__


def _counting_check_invariants(self, *args, **kwargs):
    _counts["checks"] += 1
    return _check_invariants(self, *args, **kwargs)


def _counting_init(self, *args, **kwargs):
    _counts["machines"] += 1
    _init(self, *args, **kwargs)


# This plugin counts the steps by wrapping two of hypothesis' methods.
RuleBasedStateMachine.check_invariants = _counting_check_invariants  # type: ignore[method-assign]  # counts
RuleBasedStateMachine.__init__ = _counting_init  # type: ignore[method-assign]  # counts the state machines


def steps() -> int:
    return _counts["checks"] - _counts["machines"]


def pytest_terminal_summary(terminalreporter) -> None:
    minimum = int(os.environ.get("SOAK_MIN_STEPS", "0"))
    terminalreporter.write_line(
        f"state machine steps: {steps()} in {_counts['machines']} runs"
        + (f" (at least {minimum} required)" if minimum else "")
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    minimum = int(os.environ.get("SOAK_MIN_STEPS", "0"))
    if steps() < minimum and exitstatus == 0:
        session.exitstatus = 1
