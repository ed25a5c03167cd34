"""Login, logout, the gate in front of every route, and CSRF for forms and Dash callbacks."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, jsonify, redirect, render_template, request, url_for
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
        return str(self.id)


def _as_current_user(user) -> CurrentUser:
    return CurrentUser(id=user.id, email=user.email, name=user.name, role=user.role)


@login_manager.user_loader
def load_user(user_id: str) -> CurrentUser | None:
    with web_session_scope(db.sessions(), user_id=None) as session:
        user = accounts.get_user(session=session, user_id=int(user_id))
        return _as_current_user(user) if user else None


def init_app(server: Flask) -> None:
    """Install login, CSRF and the gate on the Flask server."""
    login_manager.init_app(server)
    login_manager.login_view = "auth.login"
    server.before_request(gate)  # before CSRF's check: an anonymous caller is told 401, not 400
    csrf.init_app(server)
    server.register_blueprint(bp)
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


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on POST check the password and start a session."""
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    email = request.form.get("email", "")
    if request.method == "POST":
        with web_session_scope(db.sessions(), user_id=None) as session:
            result = accounts.authenticate(session=session, email=email, password=request.form.get("password", ""))
            user = _as_current_user(result.user) if result.user else None
        if user is not None:
            login_user(user, remember=request.form.get("remember") == "on")
            return redirect(_safe_next(request.args.get("next")))
        flash(result.error)
    return render_template("login.html", email=email)


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session (and forget "remember me")."""
    logout_user()
    response = redirect(url_for("auth.login"))
    response.delete_cookie(CSRF_COOKIE)
    return response
