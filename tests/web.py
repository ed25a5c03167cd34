"""Helpers that talk to the web process over HTTP as a browser would (Flask's test client)."""

import json
import re
from urllib.parse import quote

from dashboard.auth import CSRF_COOKIE


def csrf_token(client, path="/login") -> str:
    """The CSRF token: the cookie's when logged in, else the one the login form carries."""
    cookie = client.get_cookie(CSRF_COOKIE)
    if cookie is not None:
        return cookie.value
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, email, password="correct horse", *, remember=False, next_path=None):
    """Post the login form; return the response."""
    form = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    if remember:
        form["remember"] = "on"
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data=form)


def sign_in(dash_duo, email: str, *, password: str = "correct horse", next_path: str = "") -> str:
    """Sign in through the login page in the browser (to `next_path` when given); return the server's base URL."""
    base = dash_duo.server.url.rstrip("/")
    dash_duo.driver.get(base + "/login" + (f"?next={quote(next_path)}" if next_path else ""))
    dash_duo.wait_for_element("#login-submit")
    dash_duo.find_element("#email").send_keys(email)
    dash_duo.find_element("#password").send_keys(password)
    dash_duo.find_element("#login-submit").click()
    return base


def callback(client, output_id: str, values: dict, *, csrf=True, outputs=None):
    """POST /_dash-update-component for the callback whose outputs include `output_id`.

    The request is built from /_dash-dependencies exactly as Dash's renderer builds it, with
    `values` ({"component.prop": value}) for its inputs and state; anything else is None.
    For a pattern-matching (ALL) output, pass the concrete `outputs` the page holds.
    """
    deps = client.get("/_dash-dependencies").get_json()
    spec = next(d for d in deps if output_id in d["output"])
    if outputs is None:
        parsed = [_parse(o) for o in spec["output"].strip(".").split("...")]
        outputs = parsed if len(parsed) > 1 else parsed[0]

    def item(dep):
        key = f"{dep['id']}.{dep['property']}"
        return {"id": dep["id"], "property": dep["property"], "value": values.get(key)}

    body = {
        "output": spec["output"],
        "outputs": outputs,
        "inputs": [item(d) for d in spec["inputs"]],
        "state": [item(d) for d in spec["state"]],
        "changedPropIds": list(values)[:1],
    }
    headers = {"Content-Type": "application/json"}
    if csrf:
        headers["X-CSRFToken"] = client.get_cookie(CSRF_COOKIE).value
    return client.post("/_dash-update-component", data=json.dumps(body), headers=headers)


def _parse(output: str) -> dict:
    component, prop = output.rsplit(".", 1)
    return {"id": json.loads(component) if component.startswith("{") else component, "property": prop}
