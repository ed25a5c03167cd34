"""Login, logout, the gate in front of every route, and CSRF for forms and Dash callbacks."""

import time
from dataclasses import dataclass
from math import ceil
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect, generate_csrf

from dashboard import accounts, db
from database import web_session_scope

bp = Blueprint("auth", __name__, template_folder="templates")
login_manager = LoginManager()
csrf = CSRFProtect()

# Reachable without logging in. Everything else, Dash's endpoints included, goes through the gate.
# Shopify's webhooks prove who sent them with an HMAC instead (dashboard/webhooks.py).
PUBLIC_ENDPOINTS = {"auth.login", "health.healthz", "webhooks.shopify", "vendor", "static", "_dash_assets.static"}
CSRF_COOKIE = "_csrf_token"  # Dash's renderer sends this cookie back as the X-CSRFToken header


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user as flask-login sees it."""

    id: int
    email: str
    name: str
    role: str
    session_version: int
    signed_in_at: int  # Unix time of the login, kept in the session and the remember-me cookie
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def get_id(self) -> str:
        # What the session and the remember-me cookie hold: a bumped version or an old login ends both.
        return f"{self.id}:{self.session_version}:{self.signed_in_at}"


def _as_current_user(user, signed_in_at: int) -> CurrentUser:
    return CurrentUser(id=user.id, email=user.email, name=user.name, role=user.role,
                       session_version=user.session_version, signed_in_at=signed_in_at)


@login_manager.user_loader
def load_user(token: str) -> CurrentUser | None:
    """The user a session or remember-me cookie names, unless signed out since or signed in too long ago."""
    try:
        user_id, version, signed_in_at = (int(part) for part in token.split(":"))
    except ValueError:
        return None  # a cookie from before session versions, or not ours
    if time.time() - signed_in_at > current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds():
        return None
    with web_session_scope(db.sessions(), user_id=None) as session:
        user = accounts.get_session_user(session=session, user_id=user_id, version=version)
        return _as_current_user(user, signed_in_at) if user else None


def init_app(server: Flask) -> None:
    """Install login, CSRF, the gate and the login throttle on the Flask server."""
    login_manager.init_app(server)
    login_manager.login_view = "auth.login"
    server.before_request(gate)  # before CSRF's check: an anonymous caller is told 401, not 400
    csrf.init_app(server)
    server.register_blueprint(bp)
    _limit_logins(server)
    server.after_request(set_csrf_cookie)


def gate():
    """Let public endpoints through; 401 for Dash's endpoints, a login redirect for pages."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    # Dash's own routes (/_dash-update-component, /_reload-hash, ...) are APIs: a redirect to an
    # HTML page would show up as a broken callback, so they get 401.
    if any(part.startswith("_") for part in request.path.split("/")) or request.path.startswith("/api/"):
        return jsonify(error="login required"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def set_csrf_cookie(response):
    """Give the page the CSRF token Dash's renderer echoes in X-CSRFToken on every callback."""
    if current_user.is_authenticated:
        response.set_cookie(
            CSRF_COOKIE, generate_csrf(), samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a phishing link bounce through our login.
    if not _is_plain_path(target) or urlsplit(target).netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _is_plain_path(target: str | None) -> bool:
    """Printable ASCII without backslashes: CR/LF would break the Location header, and browsers read `/\\host`
    as `//host`, another site."""
    return bool(target) and target.isascii() and target.isprintable() and "\\" not in target


def _limit_logins(server: Flask) -> None:
    # One limiter per app (tests build several); its counts live in RATELIMIT_STORAGE_URI (memory by default).
    limiter = Limiter(key_func=client_address, app=server)
    per_address = limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
    server.view_functions["auth.login"] = per_address(login)  # checked as the view starts, before any password
    server.extensions["login_limiter"] = limiter


def client_address() -> str:
    """The client's address (ProxyFix in app.py has put the proxy's X-Forwarded-For here, when one is set)."""
    return (request.remote_addr or "unknown").replace("\x00", "")


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(error: RateLimitExceeded):
    """Flask-Limiter's refusal, as the login page: no password was checked."""
    breached = current_app.extensions["login_limiter"].current_limit
    wait = max(1, ceil(breached.reset_at - time.time())) if breached else error.limit.limit.get_expiry()
    return _refused(f"Too many login attempts from your address. Try again in {wait} seconds.", wait)


def _refused(message: str, wait: float):
    flash(message)
    page = render_template("login.html", email=request.form.get("email", ""))
    return page, 429, {"Retry-After": str(ceil(wait))}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on POST count the attempt, check the password and start a session."""
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    email = request.form.get("email", "").replace("\x00", "")  # PostgreSQL's text cannot hold NUL
    if request.method == "POST":
        wait = _take_attempt(email)
        if wait:
            return _refused(f"Too many failed attempts. Try again in {ceil(wait)} seconds.", wait)
        user = _check_password(email, request.form.get("password", ""))
        if user is not None:
            login_user(user, remember=request.form.get("remember") == "on")
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.")
    return render_template("login.html", email=email)


def _take_attempt(email: str) -> float:
    # Its own transaction, committed before the password is checked: parallel guesses all see it.
    with web_session_scope(db.sessions(), user_id=None) as session:
        return accounts.take_login_attempt(session=session, email=email, address=client_address())


def _check_password(email: str, password: str) -> CurrentUser | None:
    with web_session_scope(db.sessions(), user_id=None) as session:
        user = accounts.get_user_by_email(session=session, email=email)
        parameters = accounts.login_parameters(session=session, email=email)
    computed = accounts.hash_like(parameters, password)  # argon2 holds no database connection
    with web_session_scope(db.sessions(), user_id=None) as session:
        matches = accounts.hash_matches(session=session, email=email, computed=computed)
    if not (matches and accounts.active(user)):
        return None
    with web_session_scope(db.sessions(), user_id=None) as session:
        accounts.record_login(session=session, email=email, address=client_address(), user_id=user.id)
    return _as_current_user(user, int(time.time()))


@bp.route("/logout", methods=["POST"])
def logout():
    """End every session of this user (other browsers and "remember me" too), then this one."""
    if current_user.is_authenticated:
        with web_session_scope(db.sessions(), user_id=None) as session:
            accounts.end_sessions(session=session, user_id=current_user.id)
    logout_user()
    response = redirect(url_for("auth.login"))
    response.delete_cookie(CSRF_COOKIE)
    return response
