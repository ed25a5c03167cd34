"""Request bodies are limited per route and refused with 413 before they are read."""

import json
import os
import re
import socket
import subprocess
import sys

import psutil
import pytest
import requests

import settings
from tests.conftest import wait_for
from tests.web import csrf_token, login

MB = 1024 * 1024


def test_a_webhook_a_little_over_its_limit_gets_413_and_one_under_it_is_read(client):
    too_big = client.post("/webhooks/shopify", data=b"x" * (settings.WEBHOOK_MAX_BYTES + 1))
    assert too_big.status_code == 413
    unsigned = client.post("/webhooks/shopify", data=b"x" * (settings.WEBHOOK_MAX_BYTES - 1))
    assert unsigned.status_code == 401  # read, then refused for its signature


def test_forms_take_small_bodies(client):
    form = {"email": "a@x.test", "password": "p" * settings.FORM_MAX_BYTES, "csrf_token": csrf_token(client)}
    assert client.post("/login", data=form).status_code == 413


def test_callbacks_take_what_the_app_sends_and_no_more(client, make_user):
    make_user("ana@agency.test")
    login(client, "ana@agency.test")
    headers = {"Content-Type": "application/json", "X-CSRFToken": client.get_cookie("_csrf_token").value}
    padded = json.dumps({"output": "x", "padding": "p" * settings.CALLBACK_MAX_BYTES})
    assert client.post("/_dash-update-component", data=padded, headers=headers).status_code == 413
    # The largest body the app's own callbacks sent in the browser tests was 1.2 KB.
    assert settings.CALLBACK_MAX_BYTES >= 100 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web_process(db_url, web_url, tmp_path):
    """The web as production runs it: `gunicorn app:server`, one worker; yields (port, the worker's process)."""
    port = _free_port()
    env = os.environ | {"DATABASE_URL": db_url, "WEB_DATABASE_URL": web_url, "SECRET_KEY": "test-secret",
                        "SECURE_COOKIES": "0"}  # plain HTTP on loopback
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115  (the child writes to it)
    master = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "1", "--no-control-socket",
                               "--bind", f"127.0.0.1:{port}", "app:server"],
                              cwd=settings.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(port), timeout=60, what="gunicorn to answer")
        yield port, psutil.Process(master.pid).children()[0]
    finally:
        master.terminate()
        master.wait(timeout=30)


def _answers(port) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet
        return False


def _post_50_mb(port, *, chunked: bool) -> bytes:
    """POST 50 MB to the webhook route, streamed; return the answer's first line as soon as it comes.

    After the headers and the first 64 KB, the answer is awaited before anything more is sent: a server
    that reads the body first never answers, and this fails.
    """
    piece = b"x" * 65536
    framed = b"10000\r\n" + piece + b"\r\n" if chunked else piece
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {50 * MB}"
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"POST /webhooks/shopify HTTP/1.1\r\nHost: test\r\n{length}\r\n\r\n".encode() + framed)
        sent = len(piece)
        if chunked:  # the server reads up to the limit: send until it answers or stops reading
            try:
                while sent < 50 * MB:
                    sock.sendall(framed)
                    sent += len(piece)
            except OSError:  # it answered and closed
                pass
        return sock.recv(4096).split(b"\r\n")[0]


def test_a_50_mb_body_gets_413_before_it_is_read_and_the_web_stays_flat(web_process):
    port, worker = web_process
    requests.post(f"http://127.0.0.1:{port}/webhooks/shopify", data=b"{}", timeout=10)  # warm the worker up
    before = worker.memory_info().rss
    assert _post_50_mb(port, chunked=False) == b"HTTP/1.1 413 REQUEST ENTITY TOO LARGE"
    assert _post_50_mb(port, chunked=True) == b"HTTP/1.1 413 REQUEST ENTITY TOO LARGE"
    grown = worker.memory_info().rss - before
    assert grown < 20 * MB, f"the worker grew by {grown / MB:.0f} MB"
    browser = requests.Session()  # a chunked body within the limit is read whole: the login form is understood
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"http://127.0.0.1:{port}/login").text)[1]
    form = f"csrf_token={token}&email=ana%40agency.test&password=guess".encode()
    answer = browser.post(f"http://127.0.0.1:{port}/login", data=iter([form[:20], form[20:]]), timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and "Wrong email or password." in answer.text
