"""The report's charts: matplotlib figures written as SVG text, to be inlined in the page.

matplotlib is imported inside these functions only, so that only `--html` pays for it (~0.7 s
here); no pyplot: each chart is a Figure with its own SVG canvas (no global state, no GUI
backend). Text is drawn as paths (the page looks the same on any machine, no font is fetched),
math text is off (a `$` in a host name stays a `$`), and every id in a chart is prefixed so that
several charts live in one page.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from typing import TYPE_CHECKING, Any

from etcdops.htmlreport.timeline import Attempt, MemberSize, Outage, Prediction, Span

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# matplotlib's tab20, dark shades first: steps that follow each other get clearly different colours
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#d62728",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
    "#ff9896",
)
FAILED = "#c92a2a"
NO_ETCD_AT_MOST = "#ffe3e3"  # behind the bars: clients had no etcd at most this long
NO_ETCD_AT_LEAST = "#ffa8a8"  # ... and certainly this long
LEADER = "#495057"
BEFORE, AFTER = "#adb5bd", "#0b7285"
PREDICTED, ACTUAL = "#e9ecef", "#5f3dc4"
WIDTH = 11.4  # inches: ~1100 px in a 1200 px wide page


def step_colour(index: int) -> str:
    return PALETTE[(index - 1) % len(PALETTE)]


@contextmanager
def _style(salt: str) -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(
        {
            "svg.fonttype": "path",
            "svg.hashsalt": salt,
            "text.parse_math": False,
            "font.size": 9,
            "font.family": "DejaVu Sans",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 10,
        }
    ):
        yield


def _figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), dpi=100)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def svg(fig: Figure, prefix: str, label: str) -> str:
    """The figure as an <svg> element for an HTML page: no XML prolog, doctype, metadata or
    namespace URLs; ids prefixed; a text label for screen readers."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.1, metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    # the HTML parser knows svg and xlink:href
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)


# ----- the timeline ------------------------------------------------------------
def gantt_svg(
    attempt: Attempt,
    rows: list[str],
    names: dict[int, str],
    outages: list[Outage],
    leaders: list[tuple[dt.datetime, dt.datetime, str | None]],
    prefix: str,
) -> str:
    with _style(prefix):
        fig = _figure(1.2 + 0.42 * len(rows))
        lane, ax = fig.subplots(
            2,
            1,
            sharex=True,
            gridspec_kw={"height_ratios": [0.55, max(1, len(rows))], "hspace": 0.08},
        )
        total = max(0.001, (attempt.end - attempt.start).total_seconds())

        def x(t: dt.datetime) -> float:
            return (t - attempt.start).total_seconds()

        for axes in (lane, ax):
            _outage_bands(axes, outages, x)
        _leader_lane(lane, leaders, x, total)
        _bars(ax, attempt.spans, rows, x, total)
        ax.set_yticks(range(len(rows)), [_short(r, 22) for r in rows])
        ax.set_ylim(len(rows) - 0.4, -0.6)
        ax.set_xlim(0, total * 1.01)
        ax.grid(axis="x", color="#dee2e6", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_xlabel(
            f"seconds since {attempt.start:%H:%M:%S} UTC"
            + (" (this attempt: resumed)" if attempt.resumed else " (the start of the run)")
        )
        _legend(fig, ax, attempt.spans, names, outages)
        return svg(fig, prefix, f"timeline of the run's steps per host, attempt {attempt.number}")


def _outage_bands(ax: Axes, outages: list[Outage], x: Any) -> None:
    for o in outages:
        ax.axvspan(
            x(o.lost_early), x(o.healthy or o.back), color=NO_ETCD_AT_MOST, zorder=0, linewidth=0
        )
        if o.back > o.lost_late:
            ax.axvspan(x(o.lost_late), x(o.back), color=NO_ETCD_AT_LEAST, zorder=0, linewidth=0)


def _leader_lane(
    ax: Axes, leaders: list[tuple[dt.datetime, dt.datetime, str | None]], x: Any, total: float
) -> None:
    for a, b, leader in leaders:
        left, width = x(a), max(x(b) - x(a), total * 0.002)
        if leader is None:
            ax.barh(
                0,
                width,
                left=left,
                height=0.7,
                color="white",
                edgecolor=FAILED,
                hatch="///",
                linewidth=0.8,
            )
        else:
            ax.barh(0, width, left=left, height=0.7, color=LEADER, linewidth=0)
        if width > total * 0.06:
            ax.text(
                left + width / 2,
                0,
                _short(leader or "no leader", 24),
                ha="center",
                va="center",
                color="white" if leader else "#212529",
                fontsize=8,
            )
    ax.set_yticks([0], ["leader"])
    ax.set_ylim(0.6, -0.6)
    ax.tick_params(axis="x", length=0)
    ax.spines["bottom"].set_visible(False)


def _bars(ax: Axes, spans: tuple[Span, ...], rows: list[str], x: Any, total: float) -> None:
    for s in spans:
        y = rows.index(s.host)
        if s.status == "skipped":
            ax.plot([x(s.start)], [y], marker="x", color="#868e96", markersize=5)
            continue
        width = max(s.seconds, total * 0.004)  # every action visible, however short
        failed = s.status in ("failed", "unfinished")
        ax.barh(
            y,
            width,
            left=x(s.start),
            height=0.62,
            color=step_colour(s.step),
            edgecolor=FAILED if failed else "white",
            linewidth=1.6 if failed else 0.4,
            hatch="xx" if failed else None,
        )
        if width > total * 0.03:
            ax.text(
                x(s.start) + width / 2,
                y,
                str(s.step),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if step_colour(s.step) in PALETTE[:10] else "black",
            )


def _legend(
    fig: Figure, ax: Axes, spans: tuple[Span, ...], names: dict[int, str], outages: list[Outage]
) -> None:
    from matplotlib.patches import Patch

    shown = sorted({s.step for s in spans if s.status != "skipped"})
    handles = [
        Patch(color=step_colour(i), label=f"{i}  {_short(names.get(i, '?'), 62)}") for i in shown
    ]
    if any(s.status in ("failed", "unfinished") for s in spans):
        handles.append(
            Patch(facecolor="white", edgecolor=FAILED, hatch="xx", label="failed / did not finish")
        )
    if outages:
        handles += [
            Patch(color=NO_ETCD_AT_LEAST, label="no etcd for clients (certainly)"),
            Patch(color=NO_ETCD_AT_MOST, label="no etcd for clients (at most)"),
        ]
    # below the figure (the saved SVG's tight box takes it in): the steps' names, in two columns
    below = 0.12 / fig.get_figheight()  # clear of the axis label
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(ax.get_position().x0 - 0.01, -below),
        ncol=2,
        frameon=False,
        fontsize=8,
        handlelength=1.2,
        columnspacing=2.0,
    )


# ----- db size -------------------------------------------------------------------
def sizes_svg(sizes: list[MemberSize], prefix: str) -> str:
    with _style(prefix):
        fig = _figure(0.9 + 0.5 * len(sizes))
        ax = fig.subplots()
        top = max([m.before or 0 for m in sizes] + [m.after or 0 for m in sizes] + [1]) / 2**20
        for i, m in enumerate(sizes):
            for offset, value, colour in ((-0.18, m.before, BEFORE), (0.18, m.after, AFTER)):
                if value is None:
                    continue
                mb = value / 2**20
                ax.barh(i + offset, mb, height=0.34, color=colour)
                ax.text(mb + top * 0.01, i + offset, f"{mb:,.1f} MB", va="center", fontsize=8)
        ax.set_yticks(range(len(sizes)), [_short(m.host, 22) for m in sizes])
        ax.set_ylim(len(sizes) - 0.5, -0.5)
        ax.set_xlim(0, top * 1.15)
        ax.set_xlabel("database size (MB)")
        from matplotlib.patches import Patch

        ax.legend(
            handles=[Patch(color=BEFORE, label="before"), Patch(color=AFTER, label="after")],
            loc="lower left",
            bbox_to_anchor=(0, 1),
            ncol=2,
            frameon=False,
            fontsize=8,
        )
        return svg(fig, prefix, "database size per member before and after the run")


# ----- predicted and actual --------------------------------------------------------
def predictions_svg(preds: list[Prediction], prefix: str) -> str:
    with _style(prefix):
        fig = _figure(0.9 + 0.55 * len(preds))
        ax = fig.subplots()
        top = max([p.predicted for p in preds] + [p.actual for p in preds] + [0.001])
        for i, p in enumerate(preds):
            ax.barh(
                i - 0.18,
                p.predicted,
                height=0.34,
                color=PREDICTED,
                edgecolor=LEADER,
                hatch="//",
                linewidth=0.6,
            )
            ax.barh(i + 0.18, p.actual, height=0.34, color=ACTUAL)
            ax.text(
                p.predicted + top * 0.01,
                i - 0.18,
                f"{p.predicted:.1f}s predicted",
                va="center",
                fontsize=8,
            )
            ratio = f" ({p.actual / p.predicted:.1f}x)" if p.predicted > 0 else ""
            ax.text(
                p.actual + top * 0.01,
                i + 0.18,
                f"{p.actual:.1f}s actual{ratio}",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(range(len(preds)), [_short(f"{p.step}  {p.name}", 44) for p in preds])
        ax.set_ylim(len(preds) - 0.5, -0.5)
        ax.set_xlim(0, top * 1.3)
        ax.set_xlabel("seconds")
        return svg(fig, prefix, "predicted and actual duration of the long steps")
