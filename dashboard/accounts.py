"""People who log in: create them, check their passwords (argon2, throttled), grant them shops."""

import base64
from datetime import UTC, datetime, timedelta
from math import ceil

import argon2
from argon2 import PasswordHasher
from sqlalchemy import Row, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

import settings
from dashboard import user_rules
from models import ROLES, LoginAttempt, Shop, User, UserShop

_hasher = PasswordHasher()
# Hashed with when the email is unknown, so a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")
_DUMMY_SETTINGS, _DUMMY_DIGEST = _DUMMY_HASH.rsplit("$", 1)
_DUMMY_LENGTH = len(base64.b64decode(_DUMMY_DIGEST + "=" * (-len(_DUMMY_DIGEST) % 4)))
_TYPES = {"argon2id": argon2.low_level.Type.ID, "argon2i": argon2.low_level.Type.I, "argon2d": argon2.low_level.Type.D}
# Failed logins older than this are forgotten; longer e-mails and addresses are cut to this many characters.
_FORGET_AFTER = timedelta(days=1)
_KEY_CHARS = 320


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


def get_session_user(*, session: Session, user_id: int, version: int) -> Row | None:
    """The active user a session or remember-me cookie names, if its session version is still current."""
    return session.execute(
        select(User.id, User.email, User.name, User.role, User.session_version)
        .where(User.id == user_id, User.is_active, User.session_version == version)).first()


def get_user_by_email(*, session: Session, email: str) -> User | None:
    """Return a user by email, case-insensitively."""
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


# -- logging in: count the attempt, then check the password ---------------------------------------------------


def delay_seconds(failures: int) -> float:
    """How long an address waits before its next try on an e-mail after `failures` failures (doubling, capped)."""
    over = failures - settings.LOGIN_FREE_FAILURES
    if over < 0:
        return 0
    return min(settings.LOGIN_DELAY_MAX_SECONDS, settings.LOGIN_DELAY_SECONDS * 2**over)


def _login_key(email: str) -> str:
    return email.strip().lower()[:_KEY_CHARS]


# Counted as a failure up front, under the row's lock: parallel guesses queue here and each sees the others'.
# Nothing is counted while the address must wait, so waiting out a delay is all it takes.
_TAKE_ATTEMPT = text("""
INSERT INTO app_dashboard.login_attempts AS a (email, address, failures, retry_at, updated_at)
VALUES (:email, :address, 1, :now, :now)
ON CONFLICT (email, address) DO UPDATE
    SET failures = CASE WHEN a.updated_at < :forget_before THEN 1 ELSE a.failures + 1 END, updated_at = :now
    WHERE a.retry_at <= :now
RETURNING failures
""")


def take_login_attempt(*, session: Session, email: str, address: str, now: datetime | None = None) -> float:
    """Count a login attempt on `email` from `address` before its password is checked (it counts as a failure
    until the login succeeds); return 0 when it may go ahead, else the seconds to wait (and nothing is counted).

    Known and unknown e-mails are counted alike, so the answers tell nothing about which accounts exist.
    """
    now = now or datetime.now(UTC)
    key = {"email": _login_key(email), "address": address[:_KEY_CHARS]}
    if _guessed_from_many_addresses(session, key, now):
        return settings.LOGIN_DELAY_SECONDS
    failures = session.scalar(_TAKE_ATTEMPT, key | {"now": now, "forget_before": now - _FORGET_AFTER})
    if failures is None:
        retry_at = session.scalar(select(LoginAttempt.retry_at).filter_by(**key))
        return max(1, ceil((retry_at - now).total_seconds()))
    # Still under the row's lock: the next attempt sees this wait.
    session.execute(update(LoginAttempt).filter_by(**key)
                    .values(retry_at=now + timedelta(seconds=delay_seconds(failures))))
    return 0


def _guessed_from_many_addresses(session: Session, key: dict, now: datetime) -> bool:
    """Too many failures on this e-mail in the last hour, all addresses together, and no login of it from here."""
    recent = session.scalar(select(func.coalesce(func.sum(LoginAttempt.failures), 0)).where(
        LoginAttempt.email == key["email"], LoginAttempt.updated_at > now - timedelta(hours=1)))
    if recent < settings.LOGIN_ACCOUNT_FAILURES_PER_HOUR:
        return False
    trusted_since = now - timedelta(days=settings.REMEMBER_DAYS)
    return not session.scalar(select(LoginAttempt.succeeded_at > trusted_since).filter_by(**key))


def check_password(*, session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None."""
    user = get_user_by_email(session=session, email=email)
    computed = hash_like(login_parameters(session=session, email=email), password)
    return user if hash_matches(session=session, email=email, computed=computed) and active(user) else None


def active(user: User | None) -> bool:
    return user is not None and user.is_active


def record_login(*, session: Session, email: str, address: str, user_id: int, now: datetime | None = None) -> None:
    """A successful login: forget that e-mail's failures from that address, remember it logged in from there, and
    note when the user came. Rows with nothing left to tell are pruned."""
    now = now or datetime.now(UTC)
    trusted_since = now - timedelta(days=settings.REMEMBER_DAYS)
    session.execute(delete(LoginAttempt).where(
        LoginAttempt.updated_at < now - _FORGET_AFTER,
        or_(LoginAttempt.succeeded_at.is_(None), LoginAttempt.succeeded_at < trusted_since)))
    row = {"email": _login_key(email), "address": address[:_KEY_CHARS], "failures": 0, "retry_at": now,
           "updated_at": now, "succeeded_at": now}
    session.execute(insert(LoginAttempt).values(row).on_conflict_do_update(
        index_elements=["email", "address"], set_={k: v for k, v in row.items() if k not in ("email", "address")}))
    session.execute(update(User).where(User.id == user_id).values(last_login_at=now))


def login_parameters(*, session: Session, email: str) -> tuple[str, int]:
    """An account's argon2 settings and salt, never its hash (the web role cannot read hashes: migration 0006).

    An unknown e-mail gets a dummy's, so a miss takes the same steps and time as a wrong password.
    """
    found = session.execute(text("SELECT settings, hash_len FROM app_dashboard.login_parameters(:e)"),
                            {"e": email}).one()
    return found.settings or _DUMMY_SETTINGS, found.hash_len or _DUMMY_LENGTH


def hash_matches(*, session: Session, email: str, computed: str) -> bool:
    """Whether PostgreSQL finds `computed` equal to the account's hash (asked for known and unknown e-mails)."""
    return session.execute(text("SELECT app_dashboard.check_password(:e, :h)"),
                           {"e": email, "h": computed}).scalar() is not None


def hash_like(parameters: tuple[str, int], password: str) -> str:
    """The argon2 hash of `password` under an account's settings (`$argon2id$v=19$m=..,t=..,p=..$<salt>`) and
    digest length; "" if they are unreadable."""
    encoded_settings, hash_len = parameters
    try:
        _, variant, version, costs, salt = encoded_settings.split("$")
        cost = dict(part.split("=") for part in costs.split(","))
        return argon2.low_level.hash_secret(
            password.encode(), base64.b64decode(salt + "=" * (-len(salt) % 4)), time_cost=int(cost["t"]),
            memory_cost=int(cost["m"]), parallelism=int(cost["p"]), hash_len=hash_len, type=_TYPES[variant],
            version=int(version.removeprefix("v="))).decode()
    except (ValueError, KeyError, argon2.exceptions.HashingError):
        return ""


# -- ending sessions ----------------------------------------------------------------------------------------------


def end_sessions(*, session: Session, user_id: int) -> None:
    """End every session and remember-me cookie of a user (they carry the version this bumps)."""
    session.execute(update(User).where(User.id == user_id).values(session_version=User.session_version + 1))


def set_password(*, session: Session, user_id: int, password: str) -> None:
    """Set a user's password (the rules of a new user's: ValueError), end their sessions, forget failed logins."""
    user = session.get(User, user_id, with_for_update=True)
    user_rules.check_password(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == _login_key(user.email)))
    end_sessions(session=session, user_id=user_id)


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
