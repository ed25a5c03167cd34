"""Meta Graph API v26 (Marketing API) as a Flask blueprint, over sandbox.ads accounts.

Routes (mounted by the server at url_prefix "/meta"); every path is served with or without a trailing slash, as
the official SDK asks for nodes ("act_X/"):
  GET  /<version>/me, /<version>/me/adaccounts, /<version>/me/business_users
  GET  /<version>/act_<id>                       ad account node (every field the SDK lists for AdAccount)
  GET  /<version>/<campaign|adset|ad id>         campaign, ad set and ad nodes
  GET  /<version>/<act_id|campaign|adset id>/campaigns|adsets|ads   edges (paged; summary=true gives total_count)
  GET  /<version>/<act_id|campaign|adset|ad id>/insights   sync insights (paged; levels, breakdowns, summaries)
  POST /<version>/act_<id>/insights              async report run -> {"report_run_id"}
  GET  /<version>/<report_run_id>                AdReportRun status; advances one step per poll
  GET  /<version>/<report_run_id>/insights       results of a completed run (paged)
  POST /<version>  batch=[{method, relative_url, body?}]   the batch API: a list of {code, headers, body}
  GET|POST|DELETE /_admin/faults                 inspect / set / clear MetaFaults (JSON)
Every response, errors included (unknown paths too), is JSON and carries X-Business-Use-Case-Usage,
X-Ad-Account-Usage, X-FB-Ads-Insights-Throttle and X-App-Usage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request

from sandbox import meta_nodes
from sandbox.ads import AdAccount
from sandbox.meta_errors import MetaError, no_object, param_error, unknown_path
from sandbox.meta_faults import THROTTLES, FaultRule, MetaFaults
from sandbox.meta_insights import OPERATORS, Query, insight_rows, list_param, matches, objects, parse_query

SUPPORTED_VERSIONS = ("v25.0", "v26.0")
LATEST_VERSION = "v26.0"
DEFAULT_LIMIT = 25
BATCH_LIMIT = 50
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]
# The listing edges each kind of node has (every node also has insights).
EDGES = {"account": ("campaigns", "adsets", "ads"), "campaign": ("adsets", "ads"), "adset": ("ads",), "ad": ()}
USAGE_CAP = 60          # utilisation (%) never exceeds this without a "usage" or "throttle" fault
APP_USER_ID = "10000000000000001"
BUSINESS_USER_FIELDS = frozenset({"business", "business_role_request", "email", "finance_permission", "first_name",
                                  "id", "ip_permission", "last_name", "marked_for_removal", "name", "pending_email",
                                  "role", "tasks", "title", "two_fac_status", "invited_user_type"})

ASYNC_SCHEDULE = (("Job Not Started", 0), ("Job Started", 0), ("Job Running", 42), ("Job Running", 100),
                  ("Job Completed", 100))
ASYNC_FAIL_SCHEDULE = (("Job Not Started", 0), ("Job Started", 0), ("Job Running", 23), ("Job Failed", 23))

REDUCE_DATA_MESSAGE = "Please reduce the amount of data you're asking for, then retry your request"

# ------------------------------------------------------------------------------------------------------
# Paging helpers
# ------------------------------------------------------------------------------------------------------
def _cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode().replace("=", "ZD")


def _uncursor(cursor: str) -> int:
    for pads in (0, 1, 2):
        raw = cursor[: len(cursor) - 2 * pads] + "=" * pads if pads else cursor
        if pads and not cursor.endswith("ZD" * pads):
            continue
        try:
            text = base64.b64decode(raw, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            continue
        if text.isdigit() and _cursor(int(text)) == cursor:
            return int(text)
    raise MetaError(400, 2642, "(#2642) Invalid cursors values")


# ------------------------------------------------------------------------------------------------------
# Blueprint
# ------------------------------------------------------------------------------------------------------
@dataclass
class _Run:
    id: str
    account_id: str
    rows: list[dict]
    fail: bool
    time_ref: int
    since: date
    until: date
    summary: dict | None = None
    polls: int = 0


class _State:
    def __init__(self, accounts: dict[str, AdAccount], today: Callable[[], date], faults: MetaFaults):
        self.accounts = {a.numeric_id: a for a in accounts.values()}
        self.today = today
        self.faults = faults
        self.runs: dict[str, _Run] = {}
        self.calls: dict[str, int] = {}
        self.app_calls = 0
        self.counter = 0
        self.lock = threading.Lock()

        self._objects: dict[str, tuple[AdAccount, tuple]] | None = None

    def add_account(self, account: AdAccount) -> None:
        """Serve another account from now on (e.g. a store generated after the blueprint was built)."""
        self.accounts[account.numeric_id] = account
        self._objects = None

    def find(self, node: str) -> tuple[AdAccount, tuple] | None:
        """The account and (kind, campaign, adset, ad) of a campaign, ad set or ad id."""
        if self._objects is None:
            self._objects = {oid: (a, hit) for a in list(self.accounts.values()) for oid, hit in objects(a).items()}
        return self._objects.get(node)

    def spent(self, account: AdAccount) -> Decimal:
        """The account's spend from its first day to now, as reported now."""
        local = self.local_now(account)
        today = local.date() if isinstance(local, datetime) else local
        day, total = account.start or today, Decimal("0")
        while day <= today:
            total += sum((r["spend"] for r in account.daily_stats(day, as_of=local)), Decimal("0"))
            day += timedelta(days=1)
        return total

    def local_now(self, account: AdAccount) -> date:
        """Account-local 'now': a date, or a naive local datetime when ``today()`` gives a datetime."""
        now = self.today()
        if isinstance(now, datetime):
            if now.tzinfo is not None:
                now = now.astimezone(ZoneInfo(account.iana_timezone)).replace(tzinfo=None)
            return now
        return now

    def trace_id(self) -> str:
        with self.lock:
            self.counter += 1
            n = self.counter
        return base64.b64encode(hashlib.sha256(f"fbtrace{n}".encode()).digest()).decode()[:23].replace("+", "x")


def _usage_headers(state: _State, account: AdAccount | None, buc_type: str, throttle: FaultRule | None) -> dict:
    app_pct = min(USAGE_CAP, state.app_calls // 10)
    headers = {"X-App-Usage": json.dumps({"call_count": app_pct, "total_cputime": app_pct // 2,
                                          "total_time": app_pct // 2}),
               "facebook-api-version": LATEST_VERSION}
    if account is None:
        headers["X-Business-Use-Case-Usage"] = "{}"
        headers["X-Ad-Account-Usage"] = json.dumps(
            {"acc_id_util_pct": 0, "reset_time_duration": 0, "ads_api_access_tier": "standard_access"})
        headers["X-FB-Ads-Insights-Throttle"] = json.dumps(
            {"app_id_util_pct": app_pct, "acc_id_util_pct": 0, "ads_api_access_tier": "standard_access"})
        return headers
    calls = state.calls.get(account.numeric_id, 0)
    pct = min(USAGE_CAP, calls)
    floor = state.faults.peek(account.account_id, "usage")
    if floor is not None:
        pct = max(pct, int(floor.value))
    regain = 0
    if throttle is not None:
        pct, regain = 100, throttle.regain_minutes
    headers["X-Business-Use-Case-Usage"] = json.dumps({account.numeric_id: [{
        "type": buc_type, "call_count": pct, "total_cputime": max(1, pct * 2 // 5) if pct else 0,
        "total_time": max(1, pct // 2) if pct else 0, "estimated_time_to_regain_access": regain,
        "ads_api_access_tier": "standard_access"}]})
    headers["X-Ad-Account-Usage"] = json.dumps({"acc_id_util_pct": pct, "reset_time_duration": regain * 60 or
                                                (300 if pct else 0), "ads_api_access_tier": "standard_access"})
    headers["X-FB-Ads-Insights-Throttle"] = json.dumps(
        {"app_id_util_pct": 100 if throttle is not None and throttle.code == 4 else app_pct,
         "acc_id_util_pct": pct, "ads_api_access_tier": "standard_access"})
    return headers


def _json(payload: object, status: int, headers: dict) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


def _token() -> str | None:
    auth = request.headers.get("Authorization", "")
    for prefix in ("Bearer ", "OAuth "):
        if auth.startswith(prefix):
            return auth[len(prefix):].strip()
    return request.values.get("access_token")


def _page(rows: list[dict], params: dict[str, str], summary: dict | None = None) -> dict:
    limit_raw = params.get("limit") or str(DEFAULT_LIMIT)
    if not limit_raw.isdigit() or int(limit_raw) < 1:
        raise param_error("Param limit must be a positive integer")
    limit = int(limit_raw)
    if params.get("after"):
        start = _uncursor(params["after"]) + 1
    elif params.get("before"):
        start = max(0, _uncursor(params["before"]) - limit)
    else:
        start = 0
    page = rows[start:start + limit]
    out: dict = {"data": page}
    if summary is not None:
        out["summary"] = summary
    if not page:
        return out
    first, last = start, start + len(page) - 1
    out["paging"] = {"cursors": {"before": _cursor(first), "after": _cursor(last)}}
    base = {k: v for k, v in params.items() if k not in ("after", "before")}
    base["limit"] = str(limit)
    if request.values.get("access_token"):      # Meta's paging URLs carry the token they were called with
        base["access_token"] = request.values["access_token"]
    url = request.base_url
    if first > 0:
        out["paging"]["previous"] = f"{url}?{urlencode({**base, 'before': _cursor(first)})}"
    if last < len(rows) - 1:
        out["paging"]["next"] = f"{url}?{urlencode({**base, 'after': _cursor(last)})}"
    return out



def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _edge_rows(account: AdAccount, edge: str, target: tuple | None, params: dict) -> list[dict]:
    """The campaigns, ad sets or ads under an account, a campaign or an ad set, filtered, as node rows."""
    kind, campaign, adset, _ad = target or ("account", None, None, None)
    found = []
    for c in account.campaigns:
        if campaign and c is not campaign:
            continue
        if edge == "campaigns" and kind == "account":
            found.append(("Campaign", meta_nodes.campaign_values(account, c)))
        for s in c["adsets"]:
            if adset and s is not adset:
                continue
            if edge == "adsets" and kind in ("account", "campaign"):
                found.append(("AdSet", meta_nodes.adset_values(account, c, s)))
            elif edge == "ads":
                found.extend(("Ad", meta_nodes.ad_values(account, c, s, a)) for a in s["ads"])
    filters = _edge_filters(params)
    fields = list_param(params.get("fields"), "fields")
    return [meta_nodes.render(node_type, fields, values) for node_type, values in found
            if all(_edge_match(node_type, values, f) for f in filters)]


def _edge_filters(params: dict) -> list[dict]:
    """``filtering`` and ``effective_status`` of an edge request, as filters on the listed objects' fields."""
    filters = []
    if params.get("filtering"):
        try:
            filters = json.loads(params["filtering"])
        except json.JSONDecodeError as exc:
            raise param_error("Param filtering must be an array") from exc
        if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
            raise param_error("Param filtering must be an array of {field, operator, value}")
    statuses = list_param(params.get("effective_status"), "effective_status")
    if statuses:
        filters.append({"field": "effective_status", "operator": "IN", "value": statuses})
    for f in filters:
        if f.get("operator") not in OPERATORS or "value" not in f:
            raise param_error(f"Filtering operator {f.get('operator')} or its value is invalid.")
    return filters


def _edge_match(node_type: str, values: dict, f: dict) -> bool:
    attr = str(f.get("field")).rpartition(".")[2]       # "campaign.effective_status" or "effective_status"
    if attr not in meta_nodes.NODE_FIELDS[node_type][0]:
        raise param_error(f"Filtering field {f.get('field')} is invalid.")
    actual = values[attr]() if attr in values else None
    wanted = f["value"]
    if attr.endswith("_time") and actual is not None and str(wanted).isdigit():     # times filter as unix seconds
        actual = int(datetime.strptime(actual, "%Y-%m-%dT%H:%M:%S%z").timestamp())
    if actual is None:
        return f["operator"].startswith("NOT_")
    return matches(actual, f["operator"], wanted)


def _node(state: _State, account: AdAccount, target: tuple | None, params: dict) -> dict:
    fields = list_param(params.get("fields"), "fields")
    if target is None:
        return meta_nodes.render("AdAccount", fields, meta_nodes.account_values(
            account, state.local_now(account), lambda: state.spent(account)))
    kind, c, s, a = target
    if kind == "campaign":
        return meta_nodes.render("Campaign", fields, meta_nodes.campaign_values(account, c))
    if kind == "adset":
        return meta_nodes.render("AdSet", fields, meta_nodes.adset_values(account, c, s))
    return meta_nodes.render("Ad", fields, meta_nodes.ad_values(account, c, s, a))


def _insights_query(state: _State, account: AdAccount, target: tuple | None, params: dict) -> tuple[Query, date]:
    """The parsed query of an insights request on a node (a campaign's insights are filtered to it)."""
    local = state.local_now(account)
    local_day = local.date() if isinstance(local, datetime) else local
    kind = target[0] if target else "account"
    owner = {"campaign": 1, "adset": 2, "ad": 3}.get(kind)
    scope = [{"field": f"{kind}.id", "operator": "EQUAL", "value": target[owner]["id"]}] if owner else []
    return parse_query(params, local_day, first_day=account.start, default_level=kind, scope=scope), local


@dataclass
class _Call:
    """What one Graph API request names: its path, and the objects it resolves to."""

    version: str
    path: list[str]
    account: AdAccount | None = None
    run: _Run | None = None
    target: tuple | None = None      # (kind, campaign, adset, ad) for a campaign, ad set or ad node
    buc_type: str = "ads_management"
    throttle: FaultRule | None = field(default=None)

    @property
    def node(self) -> str:
        return self.path[0] if self.path else ""

    @property
    def edge(self) -> str | None:
        return self.path[1] if len(self.path) > 1 else None


def blueprint(accounts: dict[str, AdAccount], *, today: Callable[[], date], faults: MetaFaults) -> Blueprint:
    """The Graph API over ``accounts`` (any keys; matched by AdAccount.account_id).

    ``today()`` is read on every request: a date (account-local "today", same date for every account; the current
    day counts as half elapsed) or a datetime (aware: converted to each account's timezone; naive: account-local
    time) for an exact partial day. ``faults`` is consulted on every request and may be changed at any time.
    """
    state = _State(accounts, today, faults)
    bp = Blueprint("meta_api", __name__)

    def resolve(call: _Call) -> None:
        """Find the account (and run or object) the path names; count the call and apply the slow fault."""
        if call.edge == "insights":
            call.buc_type = "ads_insights"
        if call.node.startswith("act_"):
            call.account = state.accounts.get(call.node[4:])
        elif call.node.isdigit():
            call.run = state.runs.get(call.node)
            if call.run is not None:
                call.account, call.buc_type = state.accounts[call.run.account_id], "ads_insights"
            elif (hit := state.find(call.node)) is not None:
                call.account, call.target = hit
        if call.account is not None:
            with state.lock:
                state.calls[call.account.numeric_id] = state.calls.get(call.account.numeric_id, 0) + 1
            slow = faults.take(call.account.account_id, "slow")
            if slow is not None and slow.value > 0:
                faults.sleep(slow.value)

    def handle(version: str, rest: str) -> Response:
        call = _Call(version, [part for part in rest.split("/") if part])
        with state.lock:
            state.app_calls += 1
        try:
            resolve(call)
            if not re.fullmatch(r"v\d+\.\d+", version):
                raise unknown_path("/" + "/".join([version, *call.path]))
            if version not in SUPPORTED_VERSIONS:
                raise MetaError(400, 2635, f"(#2635) You are calling a deprecated version of the Ads API. Please "
                                f"update to the latest version: {LATEST_VERSION}.")
            if len(call.path) > 2:
                raise unknown_path("/" + "/".join(call.path[1:]))
            token = _token()
            if not token:
                raise MetaError(400, 104, "An access token is required to request this resource.")
            valid = [a for a in state.accounts.values() if a.access_token == token]
            if not valid:
                raise MetaError(400, 190, "Invalid OAuth access token - Cannot parse access token")
            if not call.path and request.method == "POST":
                return _json(batch(version, request.values.get("batch")), 200,
                             _usage_headers(state, None, call.buc_type, None))
            if call.node == "me":
                return _json(me(valid, call.edge), 200, _usage_headers(state, None, call.buc_type, None))
            if call.account is None or call.account.access_token != token:
                raise no_object(call.node)
            check_faults(call)
            return _json(dispatch(call), 200, _usage_headers(state, call.account, call.buc_type, None))
        except MetaError as err:
            return _json(err.body(state.trace_id()), err.status,
                         _usage_headers(state, call.account, call.buc_type, call.throttle))

    def check_faults(call: _Call) -> None:
        acct_id = call.account.account_id
        if faults.take(acct_id, "expired_token"):
            local = state.local_now(call.account)
            raise MetaError(400, 190, f"Error validating access token: Session has expired on "
                            f"{(local - timedelta(days=1)):%A, %d-%b-%y} 09:00:00 PST. The current time is "
                            f"{local:%A, %d-%b-%y} 10:00:00 PST.", subcode=463)
        if faults.take(acct_id, "missing_permission"):
            raise MetaError(400, 200, "(#200) Ad account owner has NOT grant ads_management or ads_read permission")
        call.throttle = faults.take(acct_id, "throttle")
        if call.throttle is not None:
            code = call.throttle.code or 17
            subcode, message = THROTTLES[code]
            raise MetaError(400, code, message, subcode=subcode, transient=True)
        if faults.take(acct_id, "transient"):
            raise MetaError(503, 2, "(#2) Service temporarily unavailable", transient=True)
        if faults.take(acct_id, "unknown"):
            raise MetaError(500, 1, "An unknown error occurred", subcode=99)

    def dispatch(call: _Call) -> dict:
        account, edge, method = call.account, call.edge, request.method
        params = {k: v for k, v in request.values.items() if k != "access_token"}
        if call.run is not None:
            return run_answer(call.run, edge, params)
        if edge is None and method == "GET":
            return _node(state, account, call.target, params)
        kind = call.target[0] if call.target else "account"
        if edge in ("campaigns", "adsets", "ads") and edge not in EDGES[kind]:
            node_type = {"account": "AdAccount", "campaign": "Campaign", "adset": "AdSet", "ad": "Ad"}[kind]
            raise param_error(f"Tried accessing nonexisting field ({edge}) on node type ({node_type})")
        if edge in ("campaigns", "adsets", "ads") and method == "GET":
            rows = _edge_rows(account, edge, call.target, params)
            return _page(rows, params, {"total_count": len(rows)} if _truthy(params.get("summary")) else None)
        if edge == "insights" and method in ("GET", "POST"):
            q, local = _insights_query(state, account, call.target, params)
            if method == "GET":
                if faults.take(account.account_id, "reduce_data"):
                    raise MetaError(500, 1, REDUCE_DATA_MESSAGE)
                rows, summary = insight_rows(account, q, local)
                return _page(rows, params, summary)
            fail = faults.take(account.account_id, "async_fail") is not None
            rows, summary = insight_rows(account, q, local)
            local_day = local.date() if isinstance(local, datetime) else local
            since, until = min(r[0] for r in q.ranges), max(r[1] for r in q.ranges)
            with state.lock:
                run_id = str(6_040_000_000_000_000 + len(state.runs) * 7919 + 13)
                ref = datetime(local_day.year, local_day.month, local_day.day, tzinfo=UTC).timestamp()
                state.runs[run_id] = _Run(run_id, account.numeric_id, rows, fail, int(ref), since, until, summary)
            return {"report_run_id": run_id}
        if edge in (None, "campaigns", "adsets", "ads", "insights"):
            raise no_object(call.node)
        raise unknown_path(f"/{edge}")

    def run_answer(run: _Run, edge: str | None, params: dict) -> dict:
        if edge is None and request.method == "GET":
            return run_status(run)
        if edge == "insights" and request.method == "GET":
            if faults.take(state.accounts[run.account_id].account_id, "reduce_data"):
                raise MetaError(500, 1, REDUCE_DATA_MESSAGE)
            if run.fail and run.polls >= len(ASYNC_FAIL_SCHEDULE):
                raise MetaError(400, -2, "Generating the report failed. Try again later.", subcode=2490547)
            if run.fail or run.polls < len(ASYNC_SCHEDULE):
                raise param_error("The report is not ready yet: poll the AdReportRun until its async_status is "
                                  "Job Completed")
            return _page(run.rows, params, run.summary)
        raise no_object(run.id)

    def run_status(run: _Run) -> dict:
        schedule = ASYNC_FAIL_SCHEDULE if run.fail else ASYNC_SCHEDULE
        with state.lock:
            run.polls += 1
            status, pct = schedule[min(run.polls, len(schedule)) - 1]
        out = {"id": run.id, "account_id": run.account_id, "time_ref": run.time_ref, "async_status": status,
               "async_percent_completion": pct, "date_start": run.since.isoformat(),
               "date_stop": run.until.isoformat(), "is_running": status in ("Job Started", "Job Running")}
        if status == "Job Completed":
            out["time_completed"] = run.time_ref + 42
        if status == "Job Failed":
            out.update({"error_code": -2, "error_message": "Generating the report failed. Try again later.",
                        "error_subcode": 2490547, "error_user_title": "Report Failed",
                        "error_user_msg": "Generating the report failed. Try again later."})
        return out

    def me(valid: list[AdAccount], edge: str | None) -> dict:
        params = {k: v for k, v in request.values.items() if k != "access_token"}
        if edge is None:
            return {"id": APP_USER_ID, "name": "Sandbox Marketing User"}
        fields = list_param(params.get("fields"), "fields")
        if edge == "adaccounts":
            return _page([meta_nodes.render("AdAccount", fields, meta_nodes.account_values(
                a, state.local_now(a), lambda a=a: state.spent(a))) for a in valid], params)
        if edge == "business_users":
            return _page(business_users(valid, fields or ["id", "name"]), params)
        raise unknown_path(f"/{edge}")

    def business_users(valid: list[AdAccount], fields: list[str]) -> list[dict]:
        """The token's user as a member of each business owning one of its accounts."""
        rows = []
        for owner in {meta_nodes.business(a)["id"]: meta_nodes.business(a) for a in valid}.values():
            values = {"id": meta_nodes.digits("business_user", owner["id"]), "name": "Sandbox Marketing User",
                      "first_name": "Sandbox", "last_name": "Marketing User", "business": owner, "role": "ADMIN",
                      "email": "marketing@sandbox.invalid", "marked_for_removal": False, "two_fac_status": "none",
                      "tasks": ["ADMIN", "ADVERTISE", "ANALYZE", "DRAFT", "MANAGE"]}
            row = {}
            for name in fields:
                if name not in BUSINESS_USER_FIELDS:
                    raise param_error(f"Tried accessing nonexisting field ({name}) on node type (BusinessUser)")
                if name in values:
                    row[name] = values[name]
            row.setdefault("id", values["id"])
            rows.append(row)
        return rows

    def batch(version: str, raw: str | None) -> list[dict]:
        """Meta's batch API: each call answered as {code, headers, body} in the order given."""
        calls = json.loads(raw) if raw else None
        if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
            raise param_error("Param batch must be a JSON array of {method, relative_url} objects")
        if len(calls) > BATCH_LIMIT:
            raise MetaError(400, 1, f"(#1) Too many requests in batch message. Maximum batch size is {BATCH_LIMIT}")
        return [batch_call(version, c) for c in calls]

    def batch_call(version: str, spec: dict) -> dict:
        relative = str(spec.get("relative_url", "")).lstrip("/")
        path, _, query = relative.partition("?")
        parts = path.split("/")
        if parts and re.fullmatch(r"v\d+\.\d+", parts[0]):
            version, path = parts[0], "/".join(parts[1:])
        args = dict(parse_qsl(query, keep_blank_values=True))
        args.setdefault("access_token", _token() or "")
        body = dict(parse_qsl(str(spec.get("body", "")), keep_blank_values=True))
        prefix = request.path.split(f"/{request.view_args['version']}")[0]    # where the blueprint is mounted
        with current_app.test_request_context(f"{prefix}/{version}/{path}", base_url=request.host_url,
                                              method=str(spec.get("method", "GET")).upper(), query_string=args,
                                              data=body):
            answer = handle(version, path)
        out = {"code": answer.status_code, "headers": [{"name": k, "value": v} for k, v in answer.headers.items()],
               "body": answer.get_data(as_text=True)}
        if request.values.get("include_headers", "true").lower() == "false":
            del out["headers"]
        return out

    @bp.route("/_admin/faults", methods=["GET", "POST", "DELETE"])
    def admin_faults() -> Response:
        if request.method == "POST":
            try:
                faults.configure(request.get_json(force=True))
            except (KeyError, TypeError, ValueError) as exc:
                return _json({"error": str(exc)}, 400, {})
        elif request.method == "DELETE":
            faults.clear(request.args.get("account_id"), request.args.get("kind"))
        return _json({"faults": faults.snapshot()}, 200, {})

    # Both /v26.0/act_X and /v26.0/act_X/ (the SDK's form), and any other path or method, answered as Meta would.
    @bp.route("/<version>", methods=METHODS)
    @bp.route("/<version>/", methods=METHODS)
    @bp.route("/<version>/<path:rest>", methods=METHODS)
    def graph(version: str, rest: str = "") -> Response:
        return handle(version, rest)

    @bp.route("/", methods=METHODS)
    def root() -> Response:
        return _json(unknown_path("/").body(state.trace_id()), 400, _usage_headers(state, None, "ads_management", None))

    bp.state = state  # for tests and the server's admin views
    return bp
