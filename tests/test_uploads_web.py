"""The upload routes over HTTP: admins only, CSRF, the size limit before anything is kept, downloads under RLS."""

import io

import pytest

import settings
from dashboard import upload_pending, uploads_api, uploads_view
from tests.conftest import scalar
from tests.web import csrf_token, login

CSV = (b"Order ID,Date,Currency,Gross,Discounts,Refunds,Fees,Net,Channel\n"
       b"A-1,2026-11-30T14:05:00+01:00,EUR,10,0,0,1,9,Amazon\n"
       b"A-2,2026-11-30T14:05:00+01:00,EUR,ten,0,0,1,9,Amazon\n")


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "UPLOAD_DIR", tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture
def store(make_shop, make_user):
    shop_id = make_shop("web-shop.myshopify.com")
    make_user("admin@agency.test", role="admin", shops=[shop_id])
    make_user("member@agency.test", shops=[shop_id])
    make_user("stranger@agency.test", shops=[make_shop()])
    return shop_id


def _post(client, shop_id, body=CSV, token=True):
    data = {"shop": str(shop_id), "kind": "marketplace-orders", "file": (io.BytesIO(body), "orders.csv")}
    if token:
        data["csrf_token"] = csrf_token(client)
    return client.post("/uploads/new", data=data, content_type="multipart/form-data")


def test_an_admin_uploads_and_the_batch_is_queued(client, store, upload_dir, scheduler_sessions):
    login(client, "admin@agency.test")
    response = _post(client, store)
    assert response.status_code == 303 and response.headers["Location"] == f"/uploads?shop={store}&batch=1"
    assert scalar(scheduler_sessions, "SELECT status || ' ' || (uploaded_by IS NOT NULL) "
                                      "FROM app_dashboard.upload_batches") == "received true"
    assert scalar(scheduler_sessions, "SELECT kind FROM app_dashboard.sync_jobs WHERE source = 'upload'") == \
        "MARKETPLACE_ORDERS"
    again = _post(client, store)
    assert "batch+1+holds+it" in again.headers["Location"]


def test_a_member_may_not_upload_and_no_one_without_the_csrf_token(client, store, upload_dir, scheduler_sessions):
    login(client, "member@agency.test")
    assert _post(client, store).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "admin@agency.test")
    assert _post(client, store, token=False).status_code == 400
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_batches") == 0


def test_a_file_over_the_limit_is_refused_unread_with_the_limit(client, server, store, upload_dir, monkeypatch,
                                                                 scheduler_sessions):
    monkeypatch.setattr(settings, "UPLOAD_MAX_BYTES", 1000)
    server.config["BODY_LIMITS"]["uploads.upload"] = 1000 + uploads_api.FORM_OVERHEAD_BYTES
    login(client, "admin@agency.test")
    response = _post(client, store, body=CSV + b"x" * (2 * uploads_api.FORM_OVERHEAD_BYTES))
    assert response.status_code == 413
    assert "UPLOAD_MAX_BYTES = 1000 bytes" in response.get_data(as_text=True)
    assert not upload_dir.exists() or not any(upload_dir.rglob("*"))
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_batches") == 0


def test_bad_rows_download_for_members_of_the_store_only(client, store, upload_dir, scheduler_sessions):
    from database import session_scope
    from ingest.uploads import checks, formats, stage

    login(client, "admin@agency.test")
    _post(client, store)
    with session_scope(scheduler_sessions) as session:  # the scheduler's first steps, as its job runs them
        path = scalar(scheduler_sessions, "SELECT path FROM app_dashboard.upload_batches WHERE id = 1")
        stage.stage(session=session, shop_id=store, batch_id=1, fmt=formats.MARKETPLACE_ORDERS, path=path)
        checks.check(session=session, shop_id=store, batch_id=1, fmt=formats.MARKETPLACE_ORDERS)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "member@agency.test")
    text = client.get("/uploads/1/rejects.csv").get_data(as_text=True)
    assert text.splitlines()[1].startswith("3,bad number: 'ten' in Gross,")
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "stranger@agency.test")
    assert client.get("/uploads/1/rejects.csv").get_data(as_text=True).splitlines() == ["line,reason,row"]
    assert client.get(f"/reconciliation.csv?shop={store}").status_code == 404


# Headers our aliases know (Order No, Order Date, Currency Code, Net Amount) and two they do not (Total, Storefront).
OTHER_HEADERS = (b"Order No;Order Date;Currency Code;Total;Net Amount;Storefront\n"
                 b"B-1;2026-11-30T14:05:00+01:00;EUR;10,00;9,00;Otto\n")


def _mapping_page(client, store, location: str) -> dict:
    """The Uploads page the redirect lands on, as Dash renders it: each mapping dropdown's value and options."""
    from tests.test_overview_shell import _find, _response
    from tests.web import callback

    search = location.split("?", 1)[1]
    layout = _response(callback(client, "_pages_content.children", {
        "_pages_location.pathname": "/uploads", "_pages_location.search": "?" + search}))["_pages_content"]
    form = _find(layout["children"], "mapping-form")
    if form is None:
        return {}
    from ingest.uploads import formats
    return {c.name: _find(form, f"map-{c.name}") for c in formats.MARKETPLACE_ORDERS.columns}


def test_a_file_with_other_headers_is_kept_for_the_mapping_step_and_loads_once_mapped(client, store, upload_dir,
                                                                                      scheduler_sessions):
    from urllib.parse import parse_qs, urlsplit

    login(client, "admin@agency.test")
    first = _post(client, store, body=OTHER_HEADERS)
    query = parse_qs(urlsplit(first.headers["Location"]).query)
    assert "missing columns Gross, Channel" in query["upload_error"][0]
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_batches") == 0
    dropdowns = _mapping_page(client, store, first.headers["Location"])
    absent = upload_pending.NOT_IN_FILE
    assert {name: d["value"] for name, d in dropdowns.items()} == {
        "order_id": "Order No", "ordered_at": "Order Date", "currency": "Currency Code", "gross": "",
        "discounts": absent, "refunds": absent, "fees": absent, "net": "Net Amount", "channel": ""}
    headers = ["Order No", "Order Date", "Currency Code", "Total", "Net Amount", "Storefront"]
    assert [o["value"] for o in dropdowns["gross"]["options"]] == headers  # required: no "not in the file"
    assert [o["value"] for o in dropdowns["fees"]["options"]] == [absent, *headers]
    assert dropdowns["gross"]["required"] is True and dropdowns["fees"]["required"] is False
    chosen = {f"map-{name}": d["value"] for name, d in dropdowns.items()} | {"map-gross": "Total"}
    form = {"shop": str(store), "pending": query["upload_pending"][0], "csrf_token": csrf_token(client)}
    twice = client.post("/uploads/new", data=form | chosen | {"map-channel": "Total"})
    assert "chosen for both Gross and Channel" in parse_qs(urlsplit(twice.headers["Location"]).query)[
        "upload_error"][0]
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "member@agency.test")
    assert client.post("/uploads/new", data=form | chosen | {"csrf_token": csrf_token(client)}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "admin@agency.test")
    done = client.post("/uploads/new", data=form | chosen | {"map-channel": "Storefront",
                                                            "csrf_token": csrf_token(client)})
    assert done.headers["Location"] == f"/uploads?shop={store}&batch=1"
    assert scalar(scheduler_sessions, "SELECT mapping FROM app_dashboard.upload_batches") == {
        "Order No": "Order ID", "Order Date": "Date", "Currency Code": "Currency", "Total": "Gross",
        "Net Amount": "Net", "Storefront": "Channel"}
    assert not any((upload_dir / str(store) / "pending").iterdir())  # the kept copy went once loaded
    again = client.post("/uploads/new", data=form | chosen | {"csrf_token": csrf_token(client)})
    assert "no longer kept: upload it again" in parse_qs(urlsplit(again.headers["Location"]).query)[
        "upload_error"][0]


def test_a_batch_logs_details_read_as_words_not_python():
    details = {"period": ["2026-11-03", "2026-11-30"], "replaced": [], "counts": {"shopify/matched": 1200},
               "size_bytes": 1200, "sha256": "0" * 64, "errors": ["x"]}
    assert uploads_view._details(details) == ("period: 2026-11-03 – 2026-11-30; replaced: none; "
                                              "counts: shopify/matched 1,200; size bytes: 1,200")
