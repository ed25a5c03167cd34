"""The web's database session: one transaction a request, as the web role, for the logged-in user."""

from flask import Flask, current_app, g
from flask_login import current_user
from sqlalchemy.orm import Session, sessionmaker

import embedded
from database import scheduler_sessionmaker, set_app_user


def init_app(server: Flask, sessions: sessionmaker) -> None:
    """Keep the web role's session factory on the app and close each request's session after it."""
    server.extensions["web_sessions"] = sessions
    server.teardown_appcontext(_close_session)


def sessions() -> sessionmaker:
    """The web role's session factory."""
    return current_app.extensions["web_sessions"]


def writer_sessions() -> sessionmaker:
    """The scheduler role's session factory, for the few writes the web role may not make (admins only)."""
    if "writer_sessions" not in current_app.extensions:
        url = current_app.config["DATABASE_URL"] or embedded.default_url()
        current_app.extensions["writer_sessions"] = scheduler_sessionmaker(url)
    return current_app.extensions["writer_sessions"]


def get_session() -> Session:
    """This request's session, opened on first use with app.user_id set for row-level security."""
    if "db_session" not in g:
        session = sessions()()
        session.begin()
        set_app_user(session, current_user.id if current_user.is_authenticated else None)
        g.db_session = session
    return g.db_session


def _close_session(error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    if error is None and session.in_transaction():
        session.commit()
    session.close()
