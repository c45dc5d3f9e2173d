"""The CRS timeline chart: Vega-Lite (Altair) panels on one time axis, rendered to SVG by vl-convert.

Times are shown in the site's time zone: each instant becomes its wall-clock time in that zone, written
as if it were UTC, on a UTC scale, so that neither vl-convert's nor the viewer's zone can shift it.
No script runs in the page: the SVG is static and its text stays text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import altair as alt
import vl_convert

from service.timeline.layers import Layers

WIDTH = 760
FONT = "Liberation Sans, Arial, Helvetica, sans-serif"
INK = "#1a1a1a"
GRADE_COLOURS = {"0": "#cfe8cf", "1": "#ffe08a", "2": "#f4a259", "3": "#d7301f", "4": "#67000d", "unknown": "#d9d9d9"}
DARK_GRADES = frozenset({"3", "4"})
OXYGEN_CLASSES = {0: "room air", 2: "low flow", 3: "high flow", 4: "positive pressure"}
MARKERS = {  # kind: (shape, colour)
    "CAR T": ("circle", "#01665e"),
    "tocilizumab": ("triangle-down", "#1b7837"),
    "corticosteroid": ("diamond", "#762a83"),
    "ICANS": ("square", "#b35806"),
}
Row = dict[str, Any]
Layer = Any  # Altair's chaining API (mark_*, encode, properties, configure) is untyped or returns unions


def values(rows: list[Row]) -> alt.Data:
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def local_ms(moment: datetime, zone: ZoneInfo) -> float:
    """The wall-clock time in ``zone`` as epoch milliseconds of the same wall-clock time in UTC."""
    return moment.astimezone(zone).replace(tzinfo=UTC).timestamp() * 1000


def grade_name(grade: int | None) -> str:
    return "unknown" if grade is None else str(grade)


def fixed_scale(domain: list[Any], colours: list[str]) -> alt.Scale:
    return alt.Scale(domain=domain, range=colours)


class ChartBuilder:
    """One chart for one patient's layers; each panel is a small method."""

    def __init__(self, layers: Layers, zone: ZoneInfo) -> None:
        self.layers = layers
        self.zone = zone
        end = max(layers.now, layers.tocilizumab.next_allowed_at or layers.now)
        span = end - layers.start
        self.domain = [self.ms(layers.start - span * 0.02), self.ms(end + max(span * 0.04, timedelta(hours=1)))]

    @property
    def ticks(self) -> dict[str, Any]:
        """Midnights, labelled by day, over more than three days; hours otherwise."""
        if self.domain[1] - self.domain[0] > 3 * 24 * 3600 * 1000:
            return {"format": "%a %d %b", "tickCount": {"interval": "day", "step": 1}}
        return {"format": "%a %d %b %H:%M"}

    def ms(self, moment: datetime) -> float:
        return local_ms(moment, self.zone)

    def x(self, field: str = "t", *, axis: bool = False) -> alt.X:
        shown = alt.Axis(labelAngle=0, labelOverlap=True, title=f"Time ({self.zone})", **self.ticks)
        hidden = alt.Axis(labels=False, ticks=False, title=None, domain=False)
        return alt.X(f"{field}:T", scale=alt.Scale(type="utc", domain=self.domain), axis=shown if axis else hidden)

    def chart(self) -> Layer:
        """Resolve and config given at once: each chained ``configure_*`` deep-copies the whole chart (slow)."""
        panels = [self.grade_band(), self.temperature(), self.blood_pressure(), self.oxygen(), self.treatments()]
        return alt.vconcat(
            *panels,
            spacing=8,
            resolve=alt.Resolve(scale=alt.ScaleResolveMap(color="independent", shape="independent")),
            config=alt.Config(
                font=FONT,
                aria=False,
                view=alt.ViewConfig(stroke="#999999"),
                axis=alt.AxisConfig(
                    labelFontSize=11, titleFontSize=12, labelColor=INK, titleColor=INK, gridColor="#e6e6e6"
                ),
                legend=alt.LegendConfig(
                    orient="right", labelFontSize=11, titleFontSize=11, labelColor=INK, titleColor=INK
                ),
                title=alt.TitleConfig(color=INK, fontSize=13),
            ),
        )

    def now_rule(self, *, axis: bool = False) -> Layer:
        points = values([{"t": self.ms(self.layers.now)}])
        return alt.Chart(points).mark_rule(color=INK, strokeDash=[2, 2]).encode(x=self.x(axis=axis))

    def band_rows(self, track: str, grades: list[tuple[datetime, datetime, int | None]]) -> list[Row]:
        """One rectangle per stretch of the same grade (the steps of the history merged for the eye)."""
        rows: list[Row] = []
        for start, end, grade in grades:
            name = grade_name(grade)
            if rows and rows[-1]["grade"] == name:
                rows[-1]["t2"] = self.ms(max(end, start + timedelta(minutes=1)))
                continue
            ink = "#ffffff" if name in DARK_GRADES else INK
            t2 = self.ms(max(end, start + timedelta(minutes=1)))
            rows.append({"t": self.ms(start), "t2": t2, "track": track, "grade": name, "ink": ink})
        return rows

    def grade_band(self) -> Layer:
        steps = self.layers.grades
        rows = self.band_rows("ASTCT grade", [(s.start, s.end, s.grade) for s in steps])
        rows += self.band_rows("Managed as", [(s.start, s.end, s.managed_grade) for s in steps])
        base = alt.Chart(values(rows))
        y = alt.Y("track:N", title=None, sort=["ASTCT grade", "Managed as"], axis=alt.Axis(labelFontWeight="bold"))
        colour = alt.Color(
            "grade:N", title="CRS grade", scale=fixed_scale(list(GRADE_COLOURS), [*GRADE_COLOURS.values()])
        )
        bands = base.mark_rect(stroke="#ffffff", strokeWidth=0.5).encode(x=self.x(), x2="t2:T", y=y, color=colour)
        labels = (
            base.transform_filter("datum.t2 - datum.t > 0.06 * " + str(self.domain[1] - self.domain[0]))
            .transform_calculate(mid="(datum.t + datum.t2) / 2", text="'grade ' + datum.grade")
            .mark_text(fontWeight="bold", fontSize=11)
            .encode(x=self.x("mid"), y=y, text="text:N", fill=alt.Fill("ink:N", scale=None))
        )
        now = self.layers.grades[-1] if self.layers.grades else None
        title = "CRS grade from the engine's grade history"
        if now is not None:
            title += f" (now: grade {grade_name(now.grade)}, managed as {grade_name(now.managed_grade)})"
        return alt.layer(bands, labels, self.now_rule()).properties(
            width=WIDTH, height=52, title=alt.TitleParams(title, anchor="start")
        )

    def threshold(self, value: float, label: str, colour: str, y_scale: alt.Scale) -> list[Layer]:
        points = values([{"y": value, "label": label, "t": self.domain[0]}])
        y = alt.Y("y:Q", scale=y_scale)
        rule = alt.Chart(points).mark_rule(color=colour, strokeDash=[6, 3], strokeWidth=1.5).encode(y=y)
        text = (
            alt.Chart(points)
            .mark_text(align="left", baseline="bottom", dx=4, dy=-2, color=colour, fontWeight="bold")
            .encode(x=self.x(), y=y, text="label:N")
        )
        return [rule, text]  # flat: nested layers make Altair deep-copy every level

    def temperature(self) -> Layer:
        threshold = self.layers.fever_threshold_c
        rows = [
            {"t": self.ms(r.at), "value": r.value, "fever": "fever" if r.value >= threshold else "no fever"}
            for r in self.layers.temperatures
        ]
        scale = alt.Scale(domain=[35.5, 41.5], clamp=True, zero=False)
        y = alt.Y("value:Q", title="Temperature °C", scale=scale)
        base = alt.Chart(values(rows))
        line = base.mark_line(color="#555555").encode(x=self.x(), y=y)
        colour = alt.Color(
            "fever:N", title="Temperature", scale=fixed_scale(["fever", "no fever"], ["#c51b1b", "#555"])
        )
        points = base.mark_point(filled=True, size=45, opacity=1).encode(x=self.x(), y=y, color=colour)
        rule = self.threshold(threshold, f"fever ≥ {threshold:.1f} °C", "#c51b1b", scale)
        return alt.layer(*rule, line, points, self.now_rule()).properties(width=WIDTH, height=110)

    def blood_pressure(self) -> Layer:
        layers = self.layers
        rows = [{"t": self.ms(r.at), "value": r.value, "series": "systolic"} for r in layers.systolic]
        rows += [{"t": self.ms(r.at), "value": r.value, "series": "MAP"} for r in layers.mean_pressure]
        scale = alt.Scale(domain=[40, 180], clamp=True, zero=False)
        y = alt.Y("value:Q", title="Blood pressure mmHg", scale=scale)
        colour = alt.Color("series:N", title="Pressure", scale=fixed_scale(["systolic", "MAP"], ["#1f4e9c", "#6a3d9a"]))
        line = (
            alt.Chart(values(rows))
            .mark_line(point=alt.OverlayMarkDef(filled=True, size=40))
            .encode(x=self.x(), y=y, color=colour, strokeDash=alt.StrokeDash("series:N", legend=None))
        )
        rules: list[Any] = self.threshold(
            layers.sbp_below, f"hypotension: SBP < {layers.sbp_below:g}", "#1f4e9c", scale
        )
        if layers.map_below is not None:
            rules.extend(self.threshold(layers.map_below, f"or MAP < {layers.map_below:g}", "#6a3d9a", scale))
        return alt.layer(*rules, line, self.now_rule()).properties(width=WIDTH, height=120)

    def oxygen(self) -> Layer:
        rows: list[Row] = []
        for s in self.layers.oxygen:
            label = s.label if not rows or s.label != rows[-1]["shown"] else ""  # label only what changed
            value = -0.5 if s.support_class is None else s.support_class
            rows.append({"t": self.ms(s.at), "class": value, "label": label, "shown": s.label})
        if rows:
            rows.append({**rows[-1], "t": self.ms(self.layers.now), "label": ""})
        base = alt.Chart(values(rows))
        names = " : ".join(f"datum.value == {key} ? '{name}'" for key, name in OXYGEN_CLASSES.items())
        axis = alt.Axis(values=list(OXYGEN_CLASSES), labelExpr=f"{names} : ''")
        y = alt.Y("class:Q", title="Oxygen", scale=alt.Scale(domain=[-0.5, 4.5]), axis=axis)
        step = base.mark_line(interpolate="step-after", color="#2b8c8c", strokeWidth=2.5).encode(x=self.x(), y=y)
        labelled = base.transform_filter("datum.label != ''")
        points = labelled.mark_point(filled=True, color="#2b8c8c", opacity=1).encode(x=self.x(), y=y)
        text = labelled.mark_text(align="left", dx=5, dy=-8, fontSize=10, color=INK).encode(
            x=self.x(), y=y, text="label:N"
        )
        return alt.layer(step, points, text, self.now_rule()).properties(width=WIDTH, height=90)

    def treatments(self) -> Layer:
        bars = [
            {
                "t": self.ms(i.start),
                "t2": self.ms(i.end),
                "row": i.drug,
                "label": i.drug + (" running" if i.running else ""),
            }
            for i in self.layers.vasopressors
        ]
        marks = self.marker_rows()
        order = list(dict.fromkeys([*(row["row"] for row in marks), *(row["row"] for row in bars)])) or ["none"]
        y = alt.Y("row:N", title=None, sort=order, scale=alt.Scale(domain=order), axis=alt.Axis(labelFontWeight="bold"))
        layers: list[Any] = [self.now_rule(axis=True), *self.infusion_bars(bars, y), *self.markers(marks, y)]
        layers.extend(self.next_tocilizumab())
        if not bars and not marks:
            layers.append(self.nothing_given(y))
        title = alt.TitleParams(
            "CAR T, vasopressors, tocilizumab and steroid doses, ICANS",
            subtitle=self.toci_subtitle(),
            anchor="start",
            subtitleColor="#1b7837",
            subtitleFontWeight="bold",
        )
        return alt.layer(*layers).properties(width=WIDTH, height=max(40, 30 * len(order)), title=title)

    def marker_rows(self) -> list[Row]:
        layers = self.layers
        rows: list[Row] = []
        if layers.t0 is not None and layers.t0 >= layers.start:
            rows.append(
                {"t": self.ms(layers.t0), "row": "CAR T", "label": layers.product or "infusion", "kind": "CAR T"}
            )
        last_amount: dict[str, str] = {}
        for dose in layers.doses:  # a repeated amount is not labelled again: the table lists every dose
            label = "" if last_amount.get(dose.drug) == dose.amount else (dose.amount or dose.drug)
            last_amount[dose.drug] = dose.amount
            rows.append({"t": self.ms(dose.at), "row": dose.drug, "label": label, "kind": dose.role})
        rows += [
            {"t": self.ms(r.at), "row": "ICANS", "label": f"{r.label} {r.value:g}", "kind": "ICANS"}
            for r in layers.icans
        ]
        for index, row in enumerate(rows):
            row["dy"] = -11 if index % 2 == 0 else 13  # neighbouring labels alternate above and below
        return rows

    def infusion_bars(self, bars: list[Row], y: alt.Y) -> list[Layer]:
        if not bars:
            return []
        base = alt.Chart(values(bars))
        bar = base.mark_bar(color="#8c510a", height=12).encode(x=self.x(axis=True), x2="t2:T", y=y)
        text = base.mark_text(align="left", dx=3, dy=-11, fontSize=10, color=INK).encode(
            x=self.x(axis=True), y=y, text="label:N"
        )
        return [bar, text]

    def markers(self, marks: list[Row], y: alt.Y) -> list[Layer]:
        if not marks:
            return []
        base = alt.Chart(values(marks))
        kinds = list(MARKERS)
        shape = alt.Shape("kind:N", title="Marker", scale=fixed_scale(kinds, [shape for shape, _ in MARKERS.values()]))
        colour = alt.Color(
            "kind:N", title="Marker", scale=fixed_scale(kinds, [colour for _, colour in MARKERS.values()])
        )
        points = base.mark_point(filled=True, size=110, opacity=1).encode(
            x=self.x(axis=True), y=y, shape=shape, color=colour
        )
        above = base.transform_filter("datum.dy < 0").mark_text(align="left", dx=6, dy=-11, fontSize=10, color=INK)
        below = base.transform_filter("datum.dy > 0").mark_text(align="left", dx=6, dy=13, fontSize=10, color=INK)
        return [points, *(text.encode(x=self.x(axis=True), y=y, text="label:N") for text in (above, below))]

    def toci_subtitle(self) -> str:
        limits = self.layers.tocilizumab
        text = (
            f"Tocilizumab: {limits.doses_last_24h} of {limits.max_per_24h} doses in the last 24 h, "
            f"{limits.doses_since_t0} of {limits.max_total} since the CAR T infusion"
        )
        if limits.next_allowed_at is not None:
            text += f"; next dose not before {limits.next_allowed_at.astimezone(self.zone):%a %d %b %H:%M} (green line)"
        elif limits.blocked_reason is not None:
            text += f"; no further dose: {limits.blocked_reason}"
        return text

    def next_tocilizumab(self) -> list[Layer]:
        limits = self.layers.tocilizumab
        if limits.next_allowed_at is None:
            return []
        points = values([{"t": self.ms(limits.next_allowed_at)}])
        return [
            alt.Chart(points).mark_rule(color="#1b7837", strokeDash=[4, 2], strokeWidth=2).encode(x=self.x(axis=True))
        ]

    def nothing_given(self, y: alt.Y) -> Layer:
        points = values([{"t": self.ms(self.layers.now), "row": "none"}])
        return (
            alt.Chart(points)
            .transform_calculate(label="'no CAR T, vasopressor, tocilizumab, steroid or ICANS entry'")
            .mark_text(align="right", dx=-6, color=INK)
            .encode(x=self.x(axis=True), y=y, text="label:N")
        )


def chart_spec(layers: Layers, zone: ZoneInfo, *, validate: bool = False) -> dict[str, Any]:
    """The Vega-Lite spec; schema validation costs ~0.4 s a chart, so the tests do it, not every request."""
    return dict(ChartBuilder(layers, zone).chart().to_dict(validate=validate))


def chart_svg(layers: Layers, zone: ZoneInfo) -> str:
    return str(vl_convert.vegalite_to_svg(chart_spec(layers, zone)))
