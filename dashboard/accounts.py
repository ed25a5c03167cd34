"""People who log in: create them, check their passwords (argon2, throttled), grant them shops."""

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import argon2
from argon2 import PasswordHasher
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

import settings
from models import ROLES, Shop, User, UserShop

_hasher = PasswordHasher()
# Hashed with when the email is unknown, so a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")
_DUMMY_SETTINGS, _DUMMY_DIGEST = _DUMMY_HASH.rsplit("$", 1)
_DUMMY_LENGTH = len(base64.b64decode(_DUMMY_DIGEST + "=" * (-len(_DUMMY_DIGEST) % 4)))
_TYPES = {"argon2id": argon2.low_level.Type.ID, "argon2i": argon2.low_level.Type.I, "argon2d": argon2.low_level.Type.D}


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def create_user(*, session: Session, email: str, password: str, role: str = "member", name: str = "") -> User:
    """Add a user; the email is unique, case-insensitively."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    user = User(email=email.strip(), name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def get_user(*, session: Session, user_id: int) -> User | None:
    """Return an active user by id."""
    return session.scalar(select(User).where(User.id == user_id, User.is_active))


def get_user_by_email(*, session: Session, email: str) -> User | None:
    """Return a user by email, case-insensitively."""
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str = ""


def lock_seconds(failures: int) -> float:
    """How long an account stays locked after `failures` failed logins in a row (doubling, capped)."""
    over = failures - settings.LOGIN_MAX_FAILURES
    if over < 0:
        return 0
    return min(settings.LOGIN_LOCK_MAX_SECONDS, settings.LOGIN_LOCK_SECONDS * 2**over)


def authenticate(*, session: Session, email: str, password: str) -> LoginResult:
    """Check an email and password; count failures and lock the account after too many."""
    user = get_user_by_email(session=session, email=email)
    now = datetime.now(UTC)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        return LoginResult(None, f"Too many failed attempts. Try again in {wait} seconds.")
    if not _verify(session, email, password) or user is None or not user.is_active:
        if user is not None:
            _count_failure(session, user, now)
        return LoginResult(None, "Wrong email or password.")
    session.execute(
        update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None, last_login_at=now)
    )
    return LoginResult(user)


def _verify(session: Session, email: str, password: str) -> bool:
    """Hash the password with the account's argon2 settings and salt; PostgreSQL says whether it matches.

    The web role cannot read password hashes (migration 0006): it gets the settings, never the digest. An
    unknown e-mail is hashed with a dummy's settings all the same, so a miss takes as long as a wrong password.
    """
    found = session.execute(text("SELECT settings, hash_len FROM app_dashboard.login_parameters(:e)"),
                            {"e": email}).one()
    computed = _hash_like(found.settings or _DUMMY_SETTINGS, found.hash_len or _DUMMY_LENGTH, password) or ""
    # Asked for a known and an unknown e-mail alike, so both take the same steps.
    return session.execute(text("SELECT app_dashboard.check_password(:e, :h)"),
                           {"e": email, "h": computed}).scalar() is not None


def _hash_like(encoded_settings: str, hash_len: int, password: str) -> str | None:
    """The argon2 hash of `password` under `$argon2id$v=19$m=..,t=..,p=..$<salt>`; None if unreadable."""
    try:
        _, variant, version, costs, salt = encoded_settings.split("$")
        cost = dict(part.split("=") for part in costs.split(","))
        return argon2.low_level.hash_secret(
            password.encode(), base64.b64decode(salt + "=" * (-len(salt) % 4)), time_cost=int(cost["t"]),
            memory_cost=int(cost["m"]), parallelism=int(cost["p"]), hash_len=hash_len, type=_TYPES[variant],
            version=int(version.removeprefix("v="))).decode()
    except (ValueError, KeyError, argon2.exceptions.HashingError):
        return None


def _count_failure(session: Session, user: User, now: datetime) -> None:
    failures = user.failed_logins + 1
    wait = lock_seconds(failures)
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_logins=failures, locked_until=now + timedelta(seconds=wait) if wait else None)
    )


def grant_shops(*, session: Session, user_id: int, shop_ids: list[int]) -> None:
    """Let a user see these shops (idempotent)."""
    if shop_ids:
        rows = [{"user_id": user_id, "shop_id": shop_id} for shop_id in shop_ids]
        session.execute(insert(UserShop).values(rows).on_conflict_do_nothing())


def grant_all_shops(*, session: Session, user_id: int) -> None:
    """Let a user see every connected shop."""
    grant_shops(session=session, user_id=user_id, shop_ids=list(session.scalars(select(Shop.id))))


def list_users(*, session: Session) -> list[User]:
    """All users, by email."""
    return list(session.scalars(select(User).order_by(func.lower(User.email))))
