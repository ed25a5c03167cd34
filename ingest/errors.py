"""What a handler raises, and how the runner treats it."""


class SyncError(Exception):
    """A failure with a hint for the person who has to act on it."""

    hint = ""

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class TransientError(SyncError):
    """Worth retrying later, with backoff (network errors, 5xx)."""

    hint = "Temporary problem; the sync retries by itself."


class ThrottledError(TransientError):
    """The API asked us to wait; retry after `retry_after` seconds."""

    hint = "The API is rate-limiting us; the sync resumes when it allows."

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class PermanentError(SyncError):
    """Retrying will not help until someone acts (revoked token, missing scope)."""

    hint = "Check the store's connection in Settings."


class Cancelled(Exception):
    """Someone asked to cancel the job; raised at the handler's next checkpoint."""


class Interrupted(Exception):
    """The scheduler is stopping; the job goes back to the queue and resumes from its state."""


class LeaseLost(Exception):
    """Another scheduler owns the job now (our lease expired); stop without writing."""
