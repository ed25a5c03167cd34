"""People who log in: create them, check their passwords (argon2, throttled), grant them shops."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

import settings
from dashboard import user_rules
from models import ROLES, Shop, User, UserShop

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def create_user(*, session: Session, email: str, password: str, role: str = "member", name: str = "") -> User:
    """Add a user; the email is unique, case-insensitively. ValueError says what is wrong, in one line."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    email = user_rules.normalize_email(email)
    user_rules.check_password(password, email=email, name=name)
    # ON CONFLICT instead of a unique violation: that error (and PostgreSQL's log line of the failed statement)
    # would carry the new password's hash.
    user = session.scalar(insert(User).values(email=email, name=name, role=role, password_hash=hash_password(password))
                          .on_conflict_do_nothing(index_elements=[func.lower(User.email)]).returning(User))
    if user is None:
        raise ValueError(f"{email} already has an account")
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
    if not _verify(user.password_hash if user else _DUMMY_HASH, password) or user is None or not user.is_active:
        if user is not None:
            _count_failure(session, user, now)
        return LoginResult(None, "Wrong email or password.")
    session.execute(
        update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None, last_login_at=now)
    )
    return LoginResult(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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
