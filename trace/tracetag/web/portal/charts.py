"""Charts for the portal, drawn as SVG on the server by pygal: no script runs in the browser,
and nothing is fetched from elsewhere (its tooltips' script is left out)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pygal
from pygal.style import Style

from tracetag.core.i18n import N_, gettext
from tracetag.scans.stats import DayCount

# pygal puts an import hook on sys.meta_path for its map plugins (pygal.maps.*), which tracetag
# does not use; the hook has no find_spec(), so every later import in the process warns
# (ImportWarning). Taken out again: a chart library should not change how the process imports.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

# The portal's own colours: genuine green, suspicious red (portal.css).
STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#333333",
    foreground_strong="#1b1b1b",
    foreground_subtle="#8a9187",
    colors=("#1e7b34", "#b3261e"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
)
# Served as an image with its own policy: pygal styles its SVG inline, and no script may run.
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


def scans_per_day_svg(days: Sequence[DayCount], *, lang: str) -> bytes:
    """Scans per day as stacked bars, genuine under suspicious, dates as dd/mm."""
    chart = pygal.StackedBar(
        style=STYLE,
        js=[],  # no tooltip script from a CDN
        disable_xml_declaration=False,
        width=640,
        height=280,
        margin=12,
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        show_minor_x_labels=False,
        truncate_label=-1,
        print_values=False,
        min_scale=1,
        max_scale=6,
    )
    chart.x_labels = [d.day.strftime("%d/%m") for d in days]
    # A date a week, counted back from today's, so that today always has its label.
    chart.x_labels_major = [chart.x_labels[i] for i in range(len(days) - 1, -1, -7)]
    chart.add(gettext(lang, N_("Genuine")), [d.genuine for d in days])
    chart.add(gettext(lang, N_("Suspicious")), [d.suspicious for d in days])
    svg: bytes = chart.render()
    return svg
