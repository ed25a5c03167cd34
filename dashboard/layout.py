"""The shell around every page: navbar, store and date selectors, and the URL they live in."""

from dataclasses import replace
from urllib.parse import urlsplit

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from dashboard import db, explain, queries, selection, sync_indicator

LOCATION = "_pages_location"  # Dash Pages' own dcc.Location: writing its search re-renders the page
# (path, label, admins only)
NAV = [("/", "Overview", False), ("/marketing", "Marketing", False), ("/products", "Products", False),
       ("/reconciliation", "Reconciliation", False), ("/uploads", "Uploads", False), ("/status", "Status", False),
       ("/settings", "Settings", True)]
# The pages the store and period bar applies to (Settings and Status ignore it, so it is not shown there).
REPORT_PATHS = ("/", "/marketing", "/products", "/reconciliation")
# The pages that compare with another period (the Reconciliation does not: no "Compare with" there).
COMPARE_PATHS = ("/", "/marketing", "/products")


def shell():
    """The page frame for the logged-in user (Dash calls this on every page load)."""
    if not current_user.is_authenticated:
        return html.Div()
    shops = queries.list_shops(session=db.get_session())
    # Dash fetches this layout from the page itself: its Referer names the page, so the bar starts right.
    path = urlsplit(request.referrer or "").path or "/"
    return html.Div(
        [
            navbar(),
            sync_indicator.banner(),
            sync_indicator.poll(),
            filter_bar(shops, shown=path in REPORT_PATHS, compare_shown=path in COMPARE_PATHS),
            dbc.Container(
                # A page being re-rendered stays visible, dimmed, under a spinner: never a blank area.
                dcc.Loading(dash.page_container, delay_show=250, overlay_style={"visibility": "visible",
                                                                                 "opacity": 0.5},
                            target_components={"_pages_content": "children"}, id="page-loading"),
                fluid="xl", className="py-4"),
        ]
    )


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(label, href=path, active="exact", id={"type": "nav-link", "path": path},
                                className="text-nowrap"))
        for path, label, admins_only in NAV
        if current_user.is_admin or not admins_only
    ]
    logout = html.Form(
        [
            dcc.Input(type="hidden", name="csrf_token", value=generate_csrf(), id="logout-csrf"),
            dbc.Button("Log out", type="submit", color="light", outline=True, size="sm", id="logout",
                       className="text-nowrap"),
        ],
        action="/logout",
        method="POST",
        className="d-flex align-items-center gap-3 ms-auto",
    )
    user = html.Span(
        [current_user.display_name, dbc.Badge(current_user.role, color="info", className="ms-2")],
        className="text-light small",
        id="current-user",
    )
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Storefront analytics", href="/"),
                html.Button(html.Span(className="navbar-toggler-icon"), id="navbar-toggler", n_clicks=0, type="button",
                            className="navbar-toggler", **{"aria-label": "Menu", "aria-controls": "navbar-collapse"}),
                # Below the lg breakpoint (a phone's 390 px) the links fold behind the toggler.
                dbc.Collapse(
                    [
                        dbc.Nav(links, navbar=True, className="me-auto"),
                        dbc.Nav(sync_indicator.indicator(), navbar=True, className="me-lg-3"),
                        html.Div([user, logout], className="d-flex align-items-center gap-3 py-2 py-lg-0"),
                    ],
                    id="navbar-collapse", is_open=False, navbar=True,
                ),
            ],
            fluid="xl",
        ),
        color="dark",
        dark=True,
        expand="lg",
    )


def _labelled(label: str, control, width: dict, **col) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=control.id), control], **width, **col)


def filter_bar(shops, *, shown: bool = True, compare_shown: bool = True) -> html.Div:
    return html.Div(
        dbc.Container(
            dbc.Row(
                [
                    _labelled("Store", dcc.Dropdown(id="shop", options=shop_options(shops), clearable=False),
                              dict(xs=12, md=3)),
                    _labelled("Period", dbc.Select(id="preset", options=_options(selection.PRESETS)),
                              dict(xs=6, md=2)),
                    _labelled("Compare with", dbc.Select(id="compare", options=_options(selection.COMPARISONS)),
                              dict(xs=6, md={"size": 3, "order": "last"}), id="compare-col",
                              className=compare_class(compare_shown)),
                    _labelled(
                        "Dates",
                        dcc.DatePickerRange(id="dates", display_format="D MMM YYYY", first_day_of_week=1),
                        dict(xs=12, md=4),
                    ),
                ],
                className="g-2 g-md-3 align-items-end",
            ),
            fluid="xl",
            className="py-3",
        ),
        className=bar_class(shown),
        id="filter-bar",
    )


def bar_class(shown: bool) -> str:
    return "filter-bar" if shown else "filter-bar d-none"


def compare_class(shown: bool) -> str:
    return "" if shown else "d-none"


def shop_options(shops) -> list[dict[str, str]]:
    """The store selector's choices: all stores, then each store by name."""
    return [{"label": "All stores", "value": selection.ALL_STORES}] + [
        {"label": shop.name, "value": str(shop.shop_id)} for shop in shops
    ]


def _options(choices: dict[str, str]) -> list[dict[str, str]]:
    return [{"label": label, "value": value} for value, label in choices.items()]


def register_callbacks(app: Dash) -> None:
    """The shell's callbacks, bound to this app (not global: tests build several apps)."""
    sync_indicator.register_callbacks(app, LOCATION)

    @app.callback(
        Output("shop", "value"),
        Output("preset", "value"),
        Output("dates", "start_date"),
        Output("dates", "end_date"),
        Output("compare", "value"),
        Output(LOCATION, "search"),
        Input(LOCATION, "search"),
        Input("shop", "value"),
        Input("preset", "value"),
        Input("dates", "start_date"),
        Input("dates", "end_date"),
        Input("compare", "value"),
    )
    def sync_selection(search, shop, preset, start, end, compare):
        """Keep the selectors and the URL's query string in step, whichever the user changed."""
        trigger = ctx.triggered_id
        session = db.get_session()
        # Presets mean today where the store is (All stores: the agency's reporting timezone).
        if trigger in (None, LOCATION):
            chosen = queries.read_selection(session=session, query=search or "")
        else:
            query = {"shop": shop, "preset": "custom" if trigger == "dates" else preset, "compare": compare}
            query |= {"start": start, "end": end, "grain": selection.parse(search or "", today=selection.today()).grain}
            chosen = queries.read_selection(session=session, query=query)
        if chosen.shop_id is not None and queries.get_shop(session=session, shop_id=chosen.shop_id) is None:
            chosen = replace(chosen, shop=selection.ALL_STORES)  # not granted, or gone: never echo it back
        new_search = chosen.to_query()
        # A bare URL already means the defaults: leave it clean rather than render the page twice.
        if new_search == search or (trigger in (None, LOCATION) and not search):
            new_search = no_update
        return (
            chosen.shop,
            chosen.preset,
            chosen.start.isoformat(),
            chosen.end.isoformat(),
            chosen.compare,
            new_search,
        )

    @app.callback(
        Output({"type": "nav-link", "path": ALL}, "href"),
        Input(LOCATION, "search"),
    )
    def carry_selection(search):
        """Links keep the selection, so it survives navigation."""
        search = search if isinstance(search, str) else ""
        return [f"{output['id']['path']}{search}" for output in ctx.outputs_list]

    @app.callback(
        Output("shop", "options"),
        Input(LOCATION, "pathname"),
        prevent_initial_call=True,
    )
    def refresh_store_choices(_pathname):
        """Re-read the stores on navigation: one connected, renamed or removed in Settings shows at once."""
        return shop_options(queries.list_shops(session=db.get_session()))

    @app.callback(Output("filter-bar", "className"), Output("compare-col", "className"),
                  Input(LOCATION, "pathname"), prevent_initial_call=True)
    def show_filter_bar(pathname):
        """The store and period bar only on the pages it applies to, its comparison where one is drawn."""
        return bar_class(pathname in REPORT_PATHS), compare_class(pathname in COMPARE_PATHS)

    @app.callback(
        Output(LOCATION, "search", allow_duplicate=True),
        Input("grain", "value"),
        State(LOCATION, "search"),
        prevent_initial_call=True,
    )
    def choose_grain(grain, search):
        """Day, week or month: written into the URL like the rest of the selection."""
        chosen = selection.parse(search or "", today=selection.today())
        if grain == chosen.grain or grain not in selection.GRAINS:
            return no_update
        return replace(chosen, grain=grain).to_query()

    @app.callback(
        Output("navbar-collapse", "is_open"),
        Input("navbar-toggler", "n_clicks"),
        State("navbar-collapse", "is_open"),
        prevent_initial_call=True,
    )
    def toggle_navbar(_clicks, is_open):
        """The phone-width menu button opens and closes the links."""
        return not is_open

    explain.register_callbacks(app, LOCATION)
