"""Charts drawn on the server as SVG by pygal, for the county dashboards.

Each chart is served as an image from its own route (``web.views.dashboards``)
with a policy that allows its own inline styles and nothing else; pygal's
scripts are switched off (``js=[]``) and its inline configuration script is
removed, so the SVG loads nothing and runs nothing. The colours are dark
enough against white for graphics (at least 3:1, WCAG 1.4.11) and differ in
lightness as well as hue; every number is also in the table beside the chart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import pygal
from pygal.style import Style

#: Series colours (contrast against white): dark blue 8.0:1, orange-brown
#: 5.6:1, purple 8.6:1, green 6.4:1.
COLOURS: Final = ("#1d4f91", "#a84300", "#5b2a86", "#2c6b2f")
STYLE: Final = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#1e2b3c",
    foreground_strong="#1e2b3c", foreground_subtle="#5b6675", opacity="1",
    opacity_hover="1", transition="none", colors=COLOURS,
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=13, major_label_font_size=13, legend_font_size=13,
    title_font_size=16, value_font_size=12, tooltip_font_size=12,
)
KINDS: Final = {"bar": pygal.Bar, "stacked": pygal.StackedBar, "line": pygal.Line}
_SCRIPT = re.compile(rb"<script\b[^>]*>.*?</script>", re.S)
#: The only policy the SVG needs: its own inline styles.
SVG_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


def draw(kind: str, *, title: str, x_title: str, y_title: str, x_labels: Sequence[str],
         series: Sequence[tuple[str, Sequence[float | None]]], no_data: str) -> bytes:
    """One chart as an SVG document."""
    chart = KINDS[kind](
        js=[], style=STYLE, width=600, height=340, title=title, x_title=x_title,
        y_title=y_title, x_labels=list(x_labels), legend_at_bottom=True,
        legend_at_bottom_columns=min(len(series), 3), truncate_legend=-1,
        truncate_label=-1, show_y_guides=True, include_x_axis=True, min_scale=2,
        no_data_text=no_data, print_values=False, disable_xml_declaration=False,
        explicit_size=False, dots_size=4, stroke_style={"width": 3})
    for label, values in series:
        chart.add(label, list(values))
    svg: bytes = chart.render()
    return _SCRIPT.sub(b"", svg)
