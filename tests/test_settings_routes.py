"""Settings over HTTP: every settings callback refuses a member with 403; an admin's requests work and are audited."""

import json

import pytest

from tests.conftest import scalar
from tests.web import callback, login

WILDCARD_VALUES = {"job": 1, "shop": 1, "account": "act_1", "user": 1}


def _settings_callbacks(client) -> list[dict]:
    deps = client.get("/_dash-dependencies").get_json()
    return [d for d in deps if "settings-" in d["output"]]


def _item(dep: dict) -> dict | list:
    """A value for one input as the renderer sends it; a wildcard input gets one concrete component."""
    component = dep["id"]
    if component.startswith("{"):
        concrete = {k: (WILDCARD_VALUES[k] if isinstance(v, list) else v) for k, v in json.loads(component).items()}
        return [{"id": concrete, "property": dep["property"], "value": 1}]
    return {"id": component, "property": dep["property"], "value": 1}


def _post(client, spec: dict, *, csrf: bool = True):
    outputs = []
    for output in spec["output"].strip(".").split("..."):
        component, prop = output.rsplit(".", 1)
        outputs.append({"id": component, "property": prop.split("@")[0]})
    body = {"output": spec["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [_item(d) for d in spec["inputs"]], "state": [_item(d) for d in spec["state"]],
            "changedPropIds": [f"{spec['inputs'][0]['id']}.{spec['inputs'][0]['property']}"]}
    headers = {"Content-Type": "application/json"}
    if csrf:
        headers["X-CSRFToken"] = client.get_cookie("_csrf_token").value
    return client.post("/_dash-update-component", data=json.dumps(body), headers=headers)


def test_a_member_gets_403_from_every_settings_callback(client, make_shop, make_user, scheduler_sessions):
    shop = make_shop()
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    specs = _settings_callbacks(client)
    assert len(specs) >= 13
    for spec in specs:
        response = _post(client, spec)
        assert response.status_code == 403, (spec["output"], response.status_code)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.audit_log") == 0
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs") == 0
    page = callback(client, "_pages_content.children", {"_pages_location.pathname": "/settings"}).get_data(True)
    assert "Settings are for admins" in page and "settings-stores" not in page
    assert client.get("/shopify/install?shop=a.myshopify.com").status_code == 403


def test_settings_callbacks_need_the_csrf_header(client, make_user):
    make_user("boss@agency.test", role="admin")
    login(client, "boss@agency.test")
    spec = next(s for s in _settings_callbacks(client) if "settings-agency-feedback" in s["output"])
    assert _post(client, spec, csrf=False).status_code == 400


@pytest.fixture
def admin_client(client, make_shop, make_user):
    shop = make_shop("alpha.myshopify.com", "Alpha")
    make_user("boss@agency.test", role="admin", shops=[shop])
    login(client, "boss@agency.test")
    return client, shop


def test_an_admin_resyncs_twice_and_sees_already_queued_and_the_audit(admin_client, scheduler_sessions):
    client, shop = admin_client
    values = {"settings-resync.n_clicks": 1, "settings-store.value": str(shop),
              "settings-resync-source.value": "shopify", "settings-resync-mode.value": "incremental"}
    first = callback(client, "settings-store-feedback.children", values).get_data(True)
    again = callback(client, "settings-store-feedback.children", values).get_data(True)
    assert "Incremental now queued" in first and "Already queued" in again
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs") == 1
    page = callback(client, "_pages_content.children", {"_pages_location.pathname": "/settings"}).get_data(True)
    assert "sync.resync" in page and "boss@agency.test" in page and "settings-progress-" in page


def test_an_admin_creates_a_user_and_sees_the_password_once(admin_client, scheduler_sessions):
    client, _ = admin_client
    values = {"settings-user-create.n_clicks": 1, "settings-new-email.value": "new@agency.test",
              "settings-new-role.value": "member"}
    answer = callback(client, "settings-users-feedback.children", values).get_json()
    assert "settings-otp" in json.dumps(answer)
    assert scalar(scheduler_sessions, "SELECT action FROM app_dashboard.audit_log") == "user.create"
