"""Job handlers for the queue's tests, registered under the `upload` source with TEST_ kinds.

Imported by the tests and by tests/scheduler_child.py, so separate scheduler processes run them too.
"""

import threading

from ingest.errors import PermanentError, ThrottledError, TransientError
from ingest.runner import handler


@handler("upload", "TEST_RECORD")
def record(ctx):
    """Log one 'ran' event (tests count them to prove each job ran exactly once)."""
    if ctx.params.get("work_seconds"):
        threading.Event().wait(ctx.params["work_seconds"])  # simulated work, not synchronisation
    ctx.log("INFO", "ran", attempt=ctx.job.attempts)


@handler("upload", "TEST_STEPS")
def steps(ctx):
    """Work through `steps` steps, checkpointing each, resuming from the saved state."""
    total = ctx.params.get("steps", 10)
    pause = ctx.params.get("step_seconds", 0.05)
    block_first = ctx.params.get("block_on_first_attempt", False) and ctx.job.attempts == 1
    step = ctx.state.get("step", 0)
    while step < total or block_first:
        threading.Event().wait(pause)
        if step < total:
            step += 1
        ctx.state["step"] = step
        ctx.checkpoint(done=step, total=total, label="Testing")
    ctx.log("INFO", "ran", attempt=ctx.job.attempts, resumed_from=ctx.job.state.get("step", 0))


@handler("upload", "TEST_FAIL")
def fail(ctx):
    """Raise the error class named in params."""
    kind = ctx.params.get("error", "transient")
    if kind == "permanent":
        raise PermanentError("token revoked", hint="Reconnect the store in Settings.")
    if kind == "throttled":
        raise ThrottledError("slow down", retry_after=ctx.params.get("retry_after", 7))
    if kind == "crash":
        raise ZeroDivisionError("unexpected")
    raise TransientError("502 from upstream")
