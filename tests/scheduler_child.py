"""`python tests/scheduler_child.py`: the real scheduler process, with the tests' handlers registered."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scheduler  # noqa: E402
import tests.handlers  # noqa: E402, F401  (registers the TEST_ handlers)
from tests import clock  # noqa: E402

if __name__ == "__main__":
    clock.follow_parent()
    scheduler.main()
