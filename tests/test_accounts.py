"""Users: argon2 hashes, throttled logins, grants."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from dashboard import accounts
from database import session_scope
from models import User, UserShop


def test_passwords_are_hashed_with_argon2id(scheduler_sessions):
    with session_scope(scheduler_sessions) as session:
        user = accounts.create_user(session=session, email="a@x.test", password="correct horse")
    assert user.password_hash.startswith("$argon2id$") and "correct horse" not in user.password_hash


@pytest.mark.parametrize("kwargs,message", [
    ({"password": "short"}, "12 characters"),
    ({"password": "long enough, really", "role": "owner"}, "role"),
])
def test_create_user_refuses_bad_input(scheduler_sessions, kwargs, message):
    with pytest.raises(ValueError, match=message), session_scope(scheduler_sessions) as session:
        accounts.create_user(session=session, email="a@x.test", **kwargs)


@pytest.mark.parametrize("failures,seconds", [(4, 0), (5, 60), (6, 120), (7, 240), (50, 3600)])
def test_lock_doubles_after_the_limit_and_is_capped(failures, seconds):
    assert accounts.lock_seconds(failures) == seconds


def test_a_lock_expires_and_success_resets_the_count(web_sessions, make_user, scheduler_sessions):
    user_id = make_user("a@x.test")
    for _ in range(5):
        with session_scope(web_sessions) as session:
            assert accounts.authenticate(session=session, email="a@x.test", password="nope").user is None
    with session_scope(scheduler_sessions) as session:
        session.execute(update(User).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    with session_scope(web_sessions) as session:
        assert accounts.authenticate(session=session, email="a@x.test", password="correct horse").user.id == user_id
    with session_scope(scheduler_sessions) as session:
        user = session.get(User, user_id)
        assert (user.failed_logins, user.locked_until) == (0, None) and user.last_login_at is not None


def test_inactive_users_cannot_log_in(web_sessions, make_user, scheduler_sessions):
    make_user("a@x.test")
    with session_scope(scheduler_sessions) as session:
        session.execute(update(User).values(is_active=False))
    with session_scope(web_sessions) as session:
        assert accounts.authenticate(session=session, email="a@x.test", password="correct horse").user is None


def test_grants_are_idempotent(scheduler_sessions, make_user, make_shop):
    shops = [make_shop(), make_shop()]
    user_id = make_user("a@x.test", shops=shops[:1])
    with session_scope(scheduler_sessions) as session:
        accounts.grant_all_shops(session=session, user_id=user_id)
        accounts.grant_all_shops(session=session, user_id=user_id)
        count = session.query(UserShop).filter_by(user_id=user_id).count()
    assert count == 2
