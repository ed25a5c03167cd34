"""Users: argon2 hashes, login attempts counted and delayed per e-mail and address, grants."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from dashboard import accounts
from database import session_scope
from models import LoginAttempt, User, UserShop


def test_passwords_are_hashed_with_argon2id(scheduler_sessions):
    with session_scope(scheduler_sessions) as session:
        user = accounts.create_user(session=session, email="a@x.test", password="correct horse")
        password_hash = user.password_hash
    assert password_hash.startswith("$argon2id$") and "correct horse" not in password_hash


@pytest.mark.parametrize("kwargs,message", [
    ({"password": "short"}, "12 characters"),
    ({"password": "long enough, really", "role": "owner"}, "role"),
])
def test_create_user_refuses_bad_input(scheduler_sessions, kwargs, message):
    with pytest.raises(ValueError, match=message), session_scope(scheduler_sessions) as session:
        accounts.create_user(session=session, email="a@x.test", **kwargs)


@pytest.mark.parametrize("failures,seconds", [(4, 0), (5, 60), (6, 120), (7, 240), (50, 3600)])
def test_the_wait_doubles_after_the_free_failures_and_is_capped(failures, seconds):
    assert accounts.delay_seconds(failures) == seconds


def _take(web_sessions, email="a@x.test", address="127.0.0.2"):
    with session_scope(web_sessions) as session:
        return accounts.take_login_attempt(session=session, email=email, address=address)


def test_attempts_are_counted_first_then_the_address_waits_ever_longer(web_sessions, make_user):
    make_user("a@x.test")
    with time_machine.travel(datetime(2026, 3, 1, 9, tzinfo=UTC), tick=False) as clock:
        assert [_take(web_sessions) for _ in range(5)] == [0] * 5
        assert _take(web_sessions, " A@X.test") == 60  # the same e-mail however typed
        clock.shift(timedelta(seconds=59))
        assert _take(web_sessions) == 1
        clock.shift(timedelta(seconds=1))
        assert _take(web_sessions) == 0
        assert _take(web_sessions) == 120
        assert _take(web_sessions, address="127.0.0.3") == 0  # another address has its own count


def test_unknown_emails_are_counted_like_known_ones(web_sessions, make_user):
    make_user("a@x.test")
    known = [_take(web_sessions, "a@x.test") for _ in range(7)]
    unknown = [_take(web_sessions, "nobody@x.test") for _ in range(7)]
    assert known == unknown == [0, 0, 0, 0, 0, 60, 60]


def test_a_login_forgets_its_failures_and_day_old_ones(web_sessions, make_user, scheduler_sessions):
    user_id = make_user("a@x.test")
    with time_machine.travel(datetime(2026, 3, 1, 9, tzinfo=UTC), tick=False) as clock:
        _take(web_sessions, "other@x.test", "127.0.0.9")
        clock.shift(timedelta(days=1, seconds=1))
        for _ in range(4):
            _take(web_sessions)
        _take(web_sessions, address="127.0.0.3")
        with session_scope(web_sessions) as session:
            user = accounts.check_password(session=session, email="a@x.test", password="correct horse")
            accounts.record_login(session=session, email="a@x.test", address="127.0.0.2", user_id=user.id)
        assert [_take(web_sessions) for _ in range(5)] == [0] * 5
    with session_scope(scheduler_sessions) as session:
        left = session.execute(select(LoginAttempt.email, LoginAttempt.address, LoginAttempt.failures)).all()
        assert sorted(left) == [("a@x.test", "127.0.0.2", 5), ("a@x.test", "127.0.0.3", 1)]
        assert session.get(User, user_id).last_login_at == datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC)


def test_an_email_guessed_from_many_addresses_is_tried_only_from_where_it_logged_in(web_sessions, make_user):
    user_id = make_user("a@x.test")
    with session_scope(web_sessions) as session:
        accounts.record_login(session=session, email="a@x.test", address="127.0.0.2", user_id=user_id)
    for email in ("a@x.test", "nobody@x.test"):  # an unknown e-mail is treated alike
        botnet = [_take(web_sessions, email, f"127.0.1.{n}") for n in range(60)]
        assert botnet == [0] * 50 + [60] * 10  # refused, and not counted, past 50 failures an hour
    assert _take(web_sessions, "a@x.test", "127.0.0.2") == 0  # the owner, from where she logged in before
    assert _take(web_sessions, "nobody@x.test", "127.0.0.2") == 60


def test_a_wrong_password_or_an_unknown_email_finds_no_user(web_sessions, make_user):
    make_user("a@x.test")
    with session_scope(web_sessions) as session:
        assert accounts.check_password(session=session, email="a@x.test", password="nope") is None
        assert accounts.check_password(session=session, email="b@x.test", password="correct horse") is None


def test_inactive_users_cannot_log_in(web_sessions, make_user, scheduler_sessions):
    make_user("a@x.test")
    with session_scope(scheduler_sessions) as session:
        session.execute(update(User).values(is_active=False))
    with session_scope(web_sessions) as session:
        assert accounts.check_password(session=session, email="a@x.test", password="correct horse") is None


def test_grants_are_idempotent(scheduler_sessions, make_user, make_shop):
    shops = [make_shop(), make_shop()]
    user_id = make_user("a@x.test", shops=shops[:1])
    with session_scope(scheduler_sessions) as session:
        accounts.grant_all_shops(session=session, user_id=user_id)
        accounts.grant_all_shops(session=session, user_id=user_id)
        count = session.query(UserShop).filter_by(user_id=user_id).count()
    assert count == 2
