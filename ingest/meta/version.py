"""The pinned Graph API version's retirement, for the status page's warning."""

from datetime import date

import settings


def days_until_retirement(*, today: date | None = None) -> int:
    """Days until Meta retires META_API_VERSION (negative once it has)."""
    return (date.fromisoformat(settings.META_API_RETIRES_ON) - (today or date.today())).days


def retirement_warning(*, today: date | None = None) -> str | None:
    """A sentence for the status page when retirement is within META_API_WARN_DAYS, else None."""
    days = days_until_retirement(today=today)
    if days > settings.META_API_WARN_DAYS:
        return None
    when = f"in {days} days" if days >= 0 else f"{-days} days ago"
    return (f"Meta retires Marketing API {settings.META_API_VERSION} {when} ({settings.META_API_RETIRES_ON}): "
            "move META_API_VERSION to the next version.")
