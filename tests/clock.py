"""The tests' clock: one frozen instant (time-machine, ticking) for this process and the schedulers it spawns.

A test never depends on the day it runs. The sandbox's history, the product's "now" and a spawned scheduler's
"now" all derive from the instant a test travels to, and the date-sensitive tests run at each of `DATES`.
"""

import os
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import time_machine

# The day CI first went red: the fixtures' last days are Black Friday's, more changed orders than a page holds.
DEFAULT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
DATES = {
    "black-friday": DEFAULT,
    "month-end": datetime(2026, 4, 30, 22, 30, tzinfo=UTC),  # already 1 May in Berlin, still April in UTC
    "dst-berlin": datetime(2026, 3, 31, 1, 30, tzinfo=UTC),  # history ends on the day Berlin springs forward
    "dst-new-york": datetime(2026, 11, 3, 4, 30, tzinfo=UTC),  # New York fell back two days ago; still 2 Nov there
    "new-year": datetime(2026, 1, 1, 0, 30, tzinfo=UTC),  # New Year in Europe, New Year's Eve in America
    "leap-day": datetime(2024, 3, 2, 12, 0, tzinfo=UTC),  # history ends on 29 February
}

travelling: list[time_machine.Traveller] = []  # the journeys under way, innermost last


@contextmanager
def frozen(instant: datetime):
    """Travel to `instant` (the clock ticks on from there) for the duration of the block."""
    journey = time_machine.travel(instant, tick=True)
    travelling.append(journey.start())
    try:
        yield instant
    finally:
        travelling.pop()
        journey.stop()


def child_environment() -> dict[str, str]:
    """What a spawned process needs to share this process's clock (nothing when the clock is real)."""
    if not travelling:
        return {}
    return {"TEST_NOW": datetime.fromtimestamp(travelling[-1].time_ns() / 1e9, UTC).isoformat()}


def follow_parent() -> None:
    """In a spawned process: travel to the parent's instant, if it was travelling."""
    if os.environ.get("TEST_NOW"):
        time_machine.travel(datetime.fromisoformat(os.environ["TEST_NOW"]), tick=True).start()


def at_each_date(test):
    """Run a test (whose fixtures use `frozen_now`) once at each of `DATES`."""
    return pytest.mark.parametrize("frozen_now", list(DATES.values()), ids=list(DATES), indirect=True)(test)
