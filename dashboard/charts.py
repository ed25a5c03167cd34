"""Pure figure builders: rows in, `go.Figure` out. One template and one colour per metric on every page."""

import plotly.graph_objects as go
import plotly.io as pio

from dashboard.metrics import METRICS

TEMPLATE = "storefront"
pio.templates[TEMPLATE] = go.layout.Template(
    layout=dict(
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=12, color="#212529"),
        colorway=[METRICS[m].colour for m in ("total_sales", "spend", "orders", "aov", "roas", "cac")],
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin=dict(l=8, r=8, t=36, b=8),
        hovermode="x unified",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        xaxis=dict(showgrid=False, linecolor="#ADB5BD", automargin=True),
        yaxis=dict(gridcolor="#E9ECEF", zeroline=False, automargin=True, rangemode="tozero"),
    )
)
# The chart's toolbar: downloads go through the page's CSV buttons, so keep only what helps reading.
CONFIG = {"displaylogo": False, "responsive": True,
          "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"]}


def empty(message: str) -> go.Figure:
    """A figure that says why there is nothing to draw (no orders in the range, no ad account...)."""
    figure = go.Figure(layout=dict(template=TEMPLATE, height=260))
    figure.add_annotation(text=message, showarrow=False, font=dict(size=14, color="#6C757D"),
                          xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def lines(rows: list[dict], x: str, metrics: list[str], *, title: str = "", height: int = 300,
          secondary: tuple[str, ...] = ()) -> go.Figure:
    """One line per metric over `x`, each in its metric's colour; metrics in `secondary` on a right-hand axis."""
    figure = go.Figure(layout=dict(template=TEMPLATE, title=dict(text=title, font=dict(size=14)), height=height))
    for metric in metrics:
        figure.add_scatter(x=[row[x] for row in rows], y=[row.get(metric) for row in rows], mode="lines",
                           name=METRICS[metric].label, line=dict(color=METRICS[metric].colour, width=2),
                           yaxis="y2" if metric in secondary else "y")
    if secondary:
        figure.update_layout(yaxis2=dict(overlaying="y", side="right", showgrid=False, rangemode="tozero"))
    return figure
