"""Login throttling over HTTP: counted before the password is checked, per address and per e-mail and address."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import low_level

from tests.conftest import scalar
from tests.web import csrf_token, login

OWNER, STRANGER = "127.0.0.2", "127.0.0.66"


class CountingHasher:
    """argon2's own hash function, counting the passwords it hashes (a login hashes the typed one once)."""

    def __init__(self, hash_secret):
        self.hash_secret = hash_secret
        self.checks = 0
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.checks += 1
        return self.hash_secret(*args, **kwargs)


@pytest.fixture
def argon2(monkeypatch) -> CountingHasher:
    hasher = CountingHasher(low_level.hash_secret)
    monkeypatch.setattr(low_level, "hash_secret", hasher)
    return hasher


@pytest.fixture
def make_server(db_url, web_url):
    """The Flask server on this test's database, with some settings of the test's own."""
    from app import create_app

    def make(**config):
        return create_app({"DATABASE_URL": db_url, "WEB_DATABASE_URL": web_url, "SECRET_KEY": "test-secret",
                           "TESTING": True, "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False} | config)

    return make


def _client(server, address=OWNER):
    client = server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _answer(response) -> tuple[int, str]:
    """The status and the message the login page shows."""
    found = re.search(r'id="login-error">([^<]*)<', response.get_data(as_text=True))
    return response.status_code, found.group(1) if found else ""


def test_thirty_parallel_guesses_are_all_counted_and_the_right_password_then_waits(
        make_server, make_user, scheduler_sessions, argon2):
    server = make_server(LOGIN_LIMIT_PER_ADDRESS="1000 per minute")  # the account's count alone stops them
    make_user("ana@agency.test")
    clients = [_client(server) for _ in range(30)]
    forms = [{"email": "ana@agency.test", "password": f"guess {n}", "csrf_token": csrf_token(c)}
             for n, c in enumerate(clients)]
    start = threading.Barrier(30)

    def guess(n):
        start.wait()
        return _answer(clients[n].post("/login", data=forms[n]))

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(guess, range(30)))
    wrong = [a for a in answers if a == (200, "Wrong email or password.")]
    waiting = [a for a in answers if a[0] == 429 and a[1].startswith("Too many failed attempts")]
    assert (len(wrong), len(waiting)) == (5, 25)
    assert argon2.checks == 5  # a refused guess never reaches argon2
    assert scalar(scheduler_sessions, "SELECT failures FROM app_dashboard.login_attempts") == 5
    owner = _client(server)
    status, message = _answer(login(owner, "ana@agency.test"))
    assert status == 429 and message.startswith("Too many failed attempts. Try again in")
    assert owner.get("/_dash-layout").status_code == 401 and argon2.checks == 5


def test_a_stranger_failing_from_elsewhere_cannot_keep_the_owner_out(client, server, make_user):
    make_user("ana@agency.test")
    stranger = _client(server, STRANGER)
    answers = [_answer(login(stranger, "ana@agency.test", "guess"))[0] for _ in range(8)]
    assert answers == [200] * 5 + [429] * 3
    owner = _client(server, OWNER)
    assert login(owner, "ana@agency.test").status_code == 302
    assert owner.get("/_dash-layout").status_code == 200


def _without_waits(answers: list[tuple]) -> list[tuple]:
    """The answers with the seconds left to wait blanked (they tick down between two requests)."""
    return [(status, re.sub(r"in \d+ seconds", "in N seconds", message)) for status, message in answers]


def test_known_and_unknown_emails_get_the_same_answers_and_the_same_work(server, make_user, argon2):
    make_user("ana@agency.test")
    known = [_answer(login(_client(server, OWNER), "ana@agency.test", "guess")) for _ in range(7)]
    checks_known, argon2.checks = argon2.checks, 0
    unknown = [_answer(login(_client(server, OWNER), "nobody@agency.test", "guess")) for _ in range(7)]
    waits = [int(w) for _, m in known + unknown for w in re.findall(r"in (\d+) seconds", m)]
    assert len(waits) == 4 and max(waits) - min(waits) <= 1  # the wait counts down; the batches are ms apart
    assert _without_waits(known) == _without_waits(unknown)
    assert known[0] == (200, "Wrong email or password.") and known[5][0] == 429
    assert checks_known == argon2.checks == 5  # one argon2 check per answered attempt, account or not


def test_an_address_flooding_the_form_is_refused_before_any_password_is_checked(make_server, argon2):
    server = make_server(LOGIN_LIMIT_PER_ADDRESS="10 per minute")
    flood = _client(server, STRANGER)
    token = csrf_token(flood)
    answers = [flood.post("/login", data={"email": f"user{n}@agency.test", "password": "guess", "csrf_token": token})
               for n in range(40)]
    assert [a.status_code for a in answers] == [200] * 10 + [429] * 30
    message = _answer(answers[-1])[1]
    wait = int(re.fullmatch(r"Too many login attempts from your address\. Try again in (\d+) seconds\.", message)[1])
    assert 0 < wait <= 61 and answers[-1].headers["Retry-After"] == str(wait)
    assert argon2.checks == 10
    assert _answer(login(_client(server, OWNER), "someone@agency.test"))[0] == 200  # other addresses go on


def test_a_nul_in_the_email_is_a_wrong_login_not_an_error(client, make_user):
    make_user("ana@agency.test")
    assert _answer(login(client, "ana@agency.test\x00", "guess")) == (200, "Wrong email or password.")
    assert login(client, "ana@agency.test").status_code == 302


def test_behind_a_proxy_each_client_is_counted_by_the_address_the_proxy_saw(make_server, make_user):
    server = make_server(PROXY_COUNT=1)
    make_user("ana@agency.test")
    stranger, owner = _client(server, "127.0.0.1"), _client(server, "127.0.0.1")  # both come through the proxy
    stranger.environ_base["HTTP_X_FORWARDED_FOR"] = STRANGER
    owner.environ_base["HTTP_X_FORWARDED_FOR"] = OWNER
    assert [login(stranger, "ana@agency.test", "guess").status_code for _ in range(6)] == [200] * 5 + [429]
    assert login(owner, "ana@agency.test").status_code == 302
