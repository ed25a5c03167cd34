"""Shopify's API versions as Shopify handles them: quarterly, supported 12 months, unsupported ones fall forward.

https://shopify.dev/docs/api/usage/versioning: a stable version is released on the first day of its quarter at
17:00 UTC and supported for at least 12 months; a request for an unsupported version (a retired one, `unstable`,
anything else) is answered from the oldest supported stable version, and `X-Shopify-API-Version` says which.
The sandbox serves the versions it has a schema for (`sandbox/schemas/`); a supported version it has no schema for
is answered from the newest older one it has.
"""

import re
from datetime import UTC, datetime

from sandbox.shopify_graphql import SCHEMAS

_STABLE = re.compile(r"^(\d{4})-(01|04|07|10)$")


def known_versions() -> list[str]:
    """The versions the sandbox has a schema for, oldest first."""
    return sorted(p.name.removeprefix("shopify-admin-").removesuffix(".introspection.json.gz")
                  for p in SCHEMAS.glob("shopify-admin-*.introspection.json.gz"))


def release(version: str) -> datetime | None:
    """When a stable version was released (None for anything else)."""
    match = _STABLE.match(version)
    return datetime(int(match[1]), int(match[2]), 1, 17, tzinfo=UTC) if match else None


def is_supported(version: str, now: datetime) -> bool:
    released = release(version)
    return released is not None and released <= now < released.replace(year=released.year + 1)


def served_version(requested: str, now: datetime) -> str:
    """The version a request for `requested` is answered from at `now`."""
    known = known_versions()
    if is_supported(requested, now):
        older = [v for v in known if v <= requested]
        if older:
            return older[-1]
    supported = [v for v in known if is_supported(v, now)]
    return supported[0] if supported else known[-1]
