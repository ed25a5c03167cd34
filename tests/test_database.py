"""URLs as providers hand them out, and the roles every session runs as."""

import pytest
from sqlalchemy import text

from database import normalize_url, session_scope, web_session_scope


@pytest.mark.parametrize("url", [
    "postgres://u:p@db.example.com:5432/app",
    "postgresql://u:p@db.example.com:5432/app",
    "postgresql+psycopg2://u:p@db.example.com:5432/app",
])
def test_provider_urls_map_to_psycopg2(url):
    assert normalize_url(url) == "postgresql+psycopg2://u:p@db.example.com:5432/app"


def test_non_postgres_urls_are_refused():
    with pytest.raises(ValueError, match="Not a PostgreSQL URL"):
        normalize_url("mysql://u:p@h/db")


def test_every_transaction_runs_as_its_role(scheduler_sessions, web_sessions):
    with session_scope(scheduler_sessions) as session:
        assert session.scalar(text("SELECT current_user")) == "dashboard_scheduler"
    with web_session_scope(web_sessions, user_id=42) as session:
        row = session.execute(text("SELECT current_user, current_setting('app.user_id')")).one()
    assert tuple(row) == ("dashboard_web", "42")
