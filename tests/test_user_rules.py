"""Who may be created: a real e-mail address once, a password that is long and not a common one, everywhere."""

import pytest
from sqlalchemy import text

import settings
from dashboard import accounts
from database import session_scope
from tests.conftest import scalar
from tests.web import callback, login

GOOD = "plum velvet harbour 42"


@pytest.mark.parametrize("email", ["", "   ", "not-an-email", "a" * 5000 + "@agency.test", "a b@agency.test",
                                   "ana@localhost", "ana@@agency.test"])
def test_cli_refuses_a_bad_email_in_one_line(server, scheduler_sessions, email):
    result = server.test_cli_runner().invoke(args=["users", "create", "--email", email, "--password", GOOD])
    assert result.exit_code != 0
    assert result.output.count("\n") == 1 and "e-mail address" in result.output, result.output
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.users") == 0


@pytest.mark.parametrize("password,why", [("12345678", "12 characters"), ("password1234", "common"),
                                          ("123456789012", "common"), ("qwertyuiopas", "common"),
                                          ("aaaaaaaaaaaa", "common"), ("ana@agency.test1", "common"),
                                          ("x" * 257, "at most")])
def test_cli_refuses_a_short_or_common_password(server, scheduler_sessions, password, why):
    result = server.test_cli_runner().invoke(args=["users", "create", "--email", "ana@agency.test",
                                                   "--password", password])
    assert result.exit_code != 0 and why in result.output and result.output.count("\n") == 1, result.output
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.users") == 0


def test_a_duplicate_is_one_line_without_the_hash_anywhere(server, scheduler_sessions, db_url, caplog):
    server_log = settings.ROOT / "var" / "test-pgdata" / "log"  # the embedded server's (absent elsewhere)
    logged = server_log.stat().st_size if server_log.exists() else None
    runner = server.test_cli_runner()
    assert runner.invoke(args=["users", "create", "--email", "ana@agency.test", "--password", GOOD]).exit_code == 0
    again = runner.invoke(args=["users", "create", "--email", "ANA@agency.test", "--password", GOOD + "!"])
    assert again.exit_code != 0
    assert again.output == "Error: ANA@agency.test already has an account\n"
    assert "argon2" not in again.output and "argon2" not in caplog.text and again.exc_info[0] is SystemExit
    # Nothing failed in the database either, so PostgreSQL logged no statement carrying a hash.
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.users") == 1
    if logged is not None:
        with open(server_log, "rb") as log:
            log.seek(logged)
            assert b"argon2" not in log.read()


def test_the_address_is_stored_in_its_normal_form(scheduler_sessions):
    with session_scope(scheduler_sessions) as session:
        user = accounts.create_user(session=session, email="  Ana@Agency.TEST ", password=GOOD)
        assert user.email == "Ana@agency.test" and user.id


def test_set_password_applies_the_same_rules(server, make_user, scheduler_sessions):
    make_user("a@x.test")
    runner = server.test_cli_runner()
    before = scalar(scheduler_sessions, "SELECT password_hash FROM app_dashboard.users")
    weak = runner.invoke(args=["users", "set-password", "--email", "a@x.test", "--password", "12345678"])
    assert weak.exit_code != 0 and "12 characters" in weak.output and weak.output.count("\n") == 1
    common = runner.invoke(args=["users", "set-password", "--email", "a@x.test", "--password", "password1234"])
    assert common.exit_code != 0 and "common" in common.output
    assert scalar(scheduler_sessions, "SELECT password_hash FROM app_dashboard.users") == before


@pytest.mark.parametrize("email,password,why", [("not-an-email", GOOD, "e-mail address"),
                                                ("new@agency.test", "12345678", "12 characters"),
                                                ("new@agency.test", "password1234", "common")])
def test_the_settings_users_form_applies_the_same_rules(client, make_user, scheduler_sessions, email, password,
                                                        why):
    make_user("boss@agency.test", role="admin")
    login(client, "boss@agency.test")
    values = {"settings-user-create.n_clicks": 1, "settings-new-email.value": email,
              "settings-new-role.value": "member", "settings-new-password.value": password}
    response = callback(client, "settings-users-feedback.children", values)
    assert response.status_code == 200 and why in response.get_data(as_text=True)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.users") == 1


def test_a_duplicate_leaves_the_transaction_usable(scheduler_sessions):
    with session_scope(scheduler_sessions) as session:
        accounts.create_user(session=session, email="ana@agency.test", password=GOOD)
    with pytest.raises(ValueError, match="already has an account"), session_scope(scheduler_sessions) as session:
        accounts.create_user(session=session, email="ana@agency.test", password=GOOD)
        session.execute(text("SELECT 1"))  # the transaction is still usable: nothing failed
