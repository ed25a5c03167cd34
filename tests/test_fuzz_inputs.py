"""Property test: arbitrary values in every URL parameter and every callback input never make a 500.

Each test logs an admin in once and reuses its database for every example (hypothesis calls the inner
function many times within one pytest test), so it stays within seconds.
"""

import json
from datetime import date
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import settings
from dashboard import selection
from dashboard.auth import CSRF_COOKIE
from tests.web import login

# Values a hand-crafted request might carry, beside whatever hypothesis makes up.
AWKWARD = ["all", "²", "٣", "9" * 5000, "99999999999999999999", "-1", "0", "1", "0001-01-01", "9999-12-31",
           "2026-02-30", "", " ", "\x00", "\r\n", "custom", "previous_year", "INFO", "NaN", "null", "/\\evil.test",
           "//evil.test", "{}", "[]", "a" * 3000]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=40) | st.sampled_from(AWKWARD))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
ANY_TEXT = st.text(max_size=40) | st.sampled_from(AWKWARD)
# Each URL parameter: values of its own kind (ids, presets, any date) as often as anything else.
QUERIES = st.fixed_dictionaries({}, optional={
    "shop": st.integers().map(str) | ANY_TEXT,
    "preset": st.sampled_from([*selection.PRESETS, "custom"]) | ANY_TEXT,
    "start": st.dates().map(date.isoformat) | ANY_TEXT,
    "end": st.dates().map(date.isoformat) | ANY_TEXT,
    "compare": st.sampled_from(list(selection.COMPARISONS)) | ANY_TEXT,
    "connected": ANY_TEXT, "connect_error": ANY_TEXT, "next": ANY_TEXT,
    "x-y": ANY_TEXT,
})
PATHS = ["/", "/status", "/settings", "/nowhere"]
FUZZ = hypothesis_settings(max_examples=300, deadline=None, derandomize=True,
                           phases=[Phase.explicit, Phase.generate, Phase.shrink],
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def admin(client, make_shop, make_user, monkeypatch):
    """A logged-in admin with one store; every outside API points at a closed loopback port."""
    for name in ("SHOPIFY_ADMIN_URL", "SHOPIFY_OAUTH_URL"):
        monkeypatch.setattr(settings, name, "http://127.0.0.1:9/{shop}/{version}")
    monkeypatch.setattr(settings, "META_GRAPH_URL", "http://127.0.0.1:9/meta")
    monkeypatch.setattr(settings, "META_HTTP_RETRIES", 0)
    shop = make_shop("alpha.myshopify.com", "Alpha Outdoor")
    make_user("boss@agency.test", role="admin", shops=[shop])
    assert login(client, "boss@agency.test").status_code == 302
    return client


def concrete(dep_id: str, fill: dict) -> object:
    """A component id as the page would hold it: a wildcard id's ALL keys filled with made-up values."""
    if not dep_id.startswith("{"):
        return dep_id
    return {key: fill.get(key, 1) if value == ["ALL"] else value for key, value in json.loads(dep_id).items()}


def is_wildcard(dep_id: str) -> bool:
    return dep_id.startswith("{") and '["ALL"]' in dep_id


def request_body(spec: dict, values: dict, fill: dict, changed: int) -> dict:
    """The body Dash's renderer posts for `spec`, with `values` for every input and state."""
    def item(dep):
        entry = {"id": concrete(dep["id"], fill), "property": dep["property"],
                 "value": values.get(f"{dep['id']}.{dep['property']}")}
        return [entry] if is_wildcard(dep["id"]) else entry

    outputs = []
    for output in spec["output"].strip(".").split("..."):
        component, prop = output.rsplit(".", 1)
        prop = prop.split("@")[0]
        entry = {"id": concrete(component, fill), "property": prop}
        outputs.append([entry] if is_wildcard(component) else entry)
    inputs = [item(dep) for dep in spec["inputs"]]
    changed_dep = spec["inputs"][changed % len(spec["inputs"])]
    changed_id = concrete(changed_dep["id"], fill)
    changed_key = json.dumps(changed_id, sort_keys=True, separators=(",", ":")) if isinstance(changed_id, dict) \
        else changed_id
    return {"output": spec["output"], "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
            "state": [item(dep) for dep in spec["state"]],
            "changedPropIds": [f"{changed_key}.{changed_dep['property']}"]}


def post_callback(client, body: dict):
    headers = {"Content-Type": "application/json", "X-CSRFToken": client.get_cookie(CSRF_COOKIE).value}
    return client.post("/_dash-update-component", data=json.dumps(body), headers=headers)


def callback_requests(specs: list[dict]):
    """A callback (clientside ones aside: they never reach the server) with made-up values for its inputs."""
    def for_spec(spec):
        keys = {f"{dep['id']}.{dep['property']}" for dep in spec["inputs"] + spec["state"]}
        return st.tuples(st.just(spec), st.fixed_dictionaries({key: VALUES for key in sorted(keys)}),
                         st.dictionaries(st.sampled_from(["job", "place", "shop", "account", "path"]), SCALARS),
                         st.integers(0, 10))
    return st.sampled_from([spec for spec in specs if not spec.get("clientside_function")]).flatmap(for_spec)


def test_no_callback_input_makes_a_500(admin):
    specs = admin.get("/_dash-dependencies").get_json()
    outputs = " ".join(spec["output"] for spec in specs)
    assert len(specs) >= 20 and "event-rows.children" in outputs and "settings-users-feedback" in outputs

    @FUZZ
    @given(request=callback_requests(specs))
    def check(request):
        spec, values, fill, changed = request
        response = post_callback(admin, request_body(spec, values, fill, changed))
        assert response.status_code < 500, (spec["output"], response.get_data(as_text=True)[:500])

    check()


def test_no_url_parameter_makes_a_500(admin):
    router = next(spec for spec in admin.get("/_dash-dependencies").get_json()
                  if "_pages_content.children" in spec["output"])

    @FUZZ
    @given(path=st.sampled_from(PATHS), query=QUERIES, shop=st.text(max_size=30) | st.sampled_from(AWKWARD))
    def check(path, query, shop):
        search = "?" + urlencode(query)
        values = {"_pages_location.pathname": path, "_pages_location.search": search}
        page = post_callback(admin, request_body(router, values, {}, 0))
        assert page.status_code == 200, (path, search, page.get_data(as_text=True)[:500])
        for url in (path + search, f"/api/sync/{quote(shop, safe='')}/status", "/login" + search):
            response = admin.get(url)
            assert response.status_code < 500, (url, response.get_data(as_text=True)[:500])

    check()
