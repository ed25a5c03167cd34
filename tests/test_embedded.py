"""`make run`'s promise: `python app.py` on a bare machine, twice, and Ctrl-C leaves nothing running."""

import os
import re
import signal
import socket
import subprocess
import sys

import psutil
import requests

import settings
from tests.conftest import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(var_dir, port, log_path, sandbox_port):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WEB_DATABASE_URL", "XDG_RUNTIME_DIR")}
    env |= {"PYTHONFAULTHANDLER": "1", "VAR_DIR": str(var_dir), "PORT": str(port), "JOB_POLL_SECONDS": "0.5",
            "SANDBOX_PORT": str(sandbox_port), "SANDBOX_STORES": "1"}
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


def test_run_twice_on_the_same_data_and_stop_cleanly(tmp_path):
    var_dir, port, sandbox_port = tmp_path / "var", _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    first = _start(var_dir, port, tmp_path / "first.log", sandbox_port)
    try:
        wait_for(lambda: _up(url), timeout=90, what="the first start")
        output = (tmp_path / "first.log").read_text()
        password = re.search(r"admin@example.com with password (\S+)", output).group(1)
        browser = _login(url, "admin@example.com", password)
        assert browser.get(url + "/_dash-layout").status_code == 200
        assert requests.get(url + "/healthz").json()["schedulers_running"] == 1
        stores = requests.get(f"http://127.0.0.1:{sandbox_port}/sandbox/stores", timeout=5).json()
        assert stores[0]["shop_domain"].endswith(".myshopify.com")
        assert f"Connected demo store {stores[0]['shop_domain']}" in output
    finally:
        _stop(first, tmp_path / "first.log")
    assert "stopped" in (tmp_path / "first.log").read_text().splitlines()[-1]
    assert not _postgres_running(var_dir / "pgdata")
    assert (var_dir / "flask-secret-key").stat().st_mode & 0o777 == 0o600

    second = _start(var_dir, port, tmp_path / "second.log", sandbox_port)
    try:
        wait_for(lambda: _up(url), timeout=90, what="the second start")
        assert "Demo admin created" not in (tmp_path / "second.log").read_text()
        assert "Connected demo store" not in (tmp_path / "second.log").read_text()  # connected once
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
