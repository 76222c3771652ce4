"""The drill dashboard: one self-contained HTML page (inline CSS and SVG, no scripts, no external assets).

It answers at a glance: did every server's latest drill pass (and which check failed), how old were the points
restored, how long each phase of the recovery takes against the RTO target, and whether the largest tables keep
their rows. Pure: records in, HTML text out; every value from storage is escaped, and a value of an unexpected
type (older runs, rows edited by hand) is shown as missing, never an error. A row that cannot be read at all
(records.py's stand-in) is listed as unreadable with its key and what is wrong, and a record that still fails to
draw is listed the same way: one bad row never costs the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from pgflex_restore.timeutil import parse_datetime

from .records import UNREADABLE

WIDTH, HEIGHT, PAD = 720, 200, 40
SMALL_W, SMALL_H, SMALL_BARS, TREND_TABLES = 440, 170, 30, 5
PHASES = ("select", "validate", "restoreJob", "load", "checks")
PHASE_COLOURS = {"select": "#8250df", "validate": "#bf8700", "restoreJob": "#0969da", "load": "#1a7f37",
                 "checks": "#cf222e", "other": "#8c959f"}
TABLE_COLOURS = ("#953800", "#0550ae", "#6639ba", "#116329", "#a40e26")
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1b1f24;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}p.note{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;background:#fff;font-size:13px}th,td{border:1px solid #d0d7de;padding:5px 9px;
text-align:left}th{background:#f3f4f6}.passed{color:#116329;font-weight:600}.failed{color:#b42318;font-weight:600}
.skipped{color:#6e7781;font-weight:600}svg{background:#fff;border:1px solid #d0d7de}
.legend span{margin-right:16px;font-size:12px}
#server-cards{display:flex;flex-wrap:wrap;gap:12px}.server-card{background:#fff;border:1px solid #d0d7de;padding:8px}
.server-card h3{font-size:14px;margin:0 0 6px}.server-card svg{display:block;border:0;margin-bottom:6px}
.failing-check{color:#b42318}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
.unreadable{color:#953800;font-weight:600}
"""
SHOWN_CHARS = 300


def _num(value: Any) -> float | None:
    """A finite number, or None for anything else (text, booleans, NaN, infinities)."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return float(value)
    except OverflowError:  # an integer beyond any float
        return None


def _time(value: Any) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _int(value: Any) -> int:
    number = _num(value)
    return int(number) if number is not None and abs(number) < 1e15 else 0


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _hours(seconds: Any) -> str:
    value = _num(seconds)
    return "" if value is None else f"{value / 3600:.1f} h"


def _minutes(seconds: Any) -> str:
    value = _num(seconds)
    return "" if value is None else f"{value / 60:.1f} min"


def _server_key(record: Mapping[str, Any]) -> str:
    return str(record.get("backupInstance") or record.get("instanceName"))


def latest_per_server(instances: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Each backup instance's most recent drill record (run ids sort by time)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for record in instances:
        key = _server_key(record)
        if key not in latest or str(record.get("runId")) > str(latest[key].get("runId")):
            latest[key] = record
    return sorted(latest.values(), key=lambda r: (str(r.get("server") or r.get("instanceName")), _server_key(r)))


def chart(title: str, points: Sequence[tuple[datetime, float, str]], unit: str, css_id: str) -> str:
    """An SVG scatter of (time, value, status) with a line through each time's maximum."""
    if not points:
        return f'<svg id="{css_id}" width="{WIDTH}" height="60" role="img"><text x="12" y="35">{escape(title)}: ' \
               "no data yet</text></svg>"
    times = [p[0].timestamp() for p in points]
    t0, t1 = min(times), max(times)
    top = max(p[1] for p in points) or 1.0

    def x(t: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.5)

    def y(v: float) -> float:
        return HEIGHT - PAD + 10 - (HEIGHT - 2 * PAD) * (v / top)

    peaks: dict[float, float] = {}
    for when, value, _ in points:
        peaks[when.timestamp()] = max(value, peaks.get(when.timestamp(), 0.0))
    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in sorted(peaks.items()))
    dots = "".join(
        f'<circle class="dot {escape(status)}" cx="{x(when.timestamp()):.1f}" cy="{y(value):.1f}" r="4" '
        f'fill="{"#b42318" if status == "failed" else "#1a7f37"}"><title>{escape(when.isoformat())}: '
        f"{value:.1f} {escape(unit)} ({escape(status)})</title></circle>"
        for when, value, status in sorted(points, key=lambda p: p[2] == "failed")  # failures drawn on top
    )
    first, last = min(p[0] for p in points), max(p[0] for p in points)
    return (
        f'<svg id="{css_id}" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><text x="{PAD}" y="18" font-size="13" font-weight="600">{escape(title)}'
        f'</text><line x1="{PAD}" y1="{HEIGHT - PAD + 10}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD + 10}" '
        f'stroke="#8c959f"/><line x1="{PAD}" y1="{PAD - 10}" x2="{PAD}" y2="{HEIGHT - PAD + 10}" stroke="#8c959f"/>'
        f'<text x="4" y="{PAD - 6}" font-size="11">{top:.1f} {escape(unit)}</text>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{escape(first.strftime("%Y-%m-%d %H:%M"))}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">'
        f'{escape(last.strftime("%Y-%m-%d %H:%M"))}</text>'
        f'<polyline points="{line}" fill="none" stroke="#0969da" stroke-width="2"/>{dots}</svg>'
    )


def _series(instances: Sequence[Mapping[str, Any]], key: str, scale: float) -> list[tuple[datetime, float, str]]:
    out = []
    for record in instances:
        when, value = _time(record.get("startedAt")), _num(record.get(key))
        if when is not None and value is not None:
            out.append((when, value / scale, _text(record.get("status"))))
    return sorted(out, key=lambda p: (p[0], p[1], p[2]))


def _status(value: Any) -> str:
    text = escape(_text(value))
    return f'<span class="{text}">{text}</span>'


def failing_check(record: Mapping[str, Any]) -> str:
    """What failed a drill: the first failed check (name: message), else the reason of an older record."""
    for check in _list(record.get("checks")):
        if isinstance(check, Mapping) and check.get("outcome") == "failed":
            message = _text(check.get("message"))
            return _text(check.get("name")) + (f": {message}" if message else "")
    return _text(record.get("reason")) if record.get("status") == "failed" else ""


def phases_of(record: Mapping[str, Any]) -> dict[str, float]:
    """Seconds per phase; an older record without phases shows its restore duration as the restore job."""
    phases = _dict(record.get("phases"))
    found = {p: v for p in PHASES if (v := _num(phases.get(p))) is not None and v >= 0}
    if not found and (total := _num(phases.get("total"))) is not None and total >= 0:
        found = {"other": total}
    if not found and (restore := _num(record.get("restoreDurationSeconds"))) is not None and restore >= 0:
        found = {"restoreJob": restore}
    return found


def _history(instances: Sequence[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    """One server's drills, oldest first."""
    return sorted((r for r in instances if _server_key(r) == key),
                  key=lambda r: (_text(r.get("runId")), _text(r.get("startedAt"))))


def _axes(top: float, unit: str, title: str, span: Sequence[Mapping[str, Any]]) -> str:
    """A small chart's title, axes, top value and the dates of the first and last drill drawn."""
    width, height = SMALL_W, SMALL_H
    ends = [span[0], span[-1]] if len(span) > 1 else list(span)
    dates = [escape((_text(r.get("startedAt")) or _text(r.get("runId")))[:16].replace("T", " ")) for r in ends]
    labels = "".join(f'<text x="{x}" y="{height - 10}" font-size="10"{anchor}>{d}</text>' for d, x, anchor in
                     zip(dates, (PAD, width - 8), ("", ' text-anchor="end"'), strict=False))
    return (labels + f'<text x="{PAD}" y="16" font-size="12" font-weight="600">{escape(title)}</text>'
            f'<line x1="{PAD}" y1="{height - 24}" x2="{width - 8}" y2="{height - 24}" stroke="#8c959f"/>'
            f'<line x1="{PAD}" y1="26" x2="{PAD}" y2="{height - 24}" stroke="#8c959f"/>'
            f'<text x="4" y="30" font-size="10">{_short(top)} {escape(unit)}</text>')


def _short(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.1f}" if value % 1 else f"{value:.0f}"


def rto_chart(history: Sequence[Mapping[str, Any]], css_id: str) -> str:
    """Stacked bars of each drill's phases (minutes), with each drill's RTO target as a dashed tick."""
    bars = [(r, phases_of(r), _num(_dict(r.get("rto")).get("target"))) for r in history]
    bars = [b for b in bars if b[1]][-SMALL_BARS:]
    if not bars:
        return f'<svg id="{css_id}" class="rto-chart" width="{SMALL_W}" height="40" role="img"><text x="8" ' \
               'y="24" font-size="12">recovery time: no phase timings yet</text></svg>'
    top = max(max(sum(p.values()), t if t and t > 0 else 0.0) for _, p, t in bars) / 60 or 1.0
    step = (SMALL_W - PAD - 12) / len(bars)
    scale = (SMALL_H - 52) / top
    parts = []
    for i, (record, shown, target) in enumerate(bars):
        x, y = PAD + 4 + i * step, float(SMALL_H - 24)
        when = escape(_text(record.get("startedAt")) or _text(record.get("runId")))
        for phase, seconds in shown.items():
            h = seconds / 60 * scale
            y -= h
            parts.append(f'<rect class="phase phase-{phase}" x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                         f'height="{h:.1f}" fill="{PHASE_COLOURS.get(phase, "#8c959f")}"><title>{when}: '
                         f"{escape(phase)} {seconds / 60:.1f} min</title></rect>")
        if target is not None and target >= 0:
            ty = SMALL_H - 24 - target / 60 * scale
            breached = _dict(record.get("rto")).get("breached") is True
            parts.append(f'<line class="rto-target{" breached" if breached else ""}" x1="{x - 2:.1f}" '
                         f'y1="{ty:.1f}" x2="{x + step * 0.7 + 2:.1f}" y2="{ty:.1f}" stroke="#b42318" '
                         f'stroke-width="2" stroke-dasharray="4 2"><title>{when}: RTO target '
                         f"{target / 60:.1f} min</title></line>")
    return (f'<svg id="{css_id}" class="rto-chart" width="{SMALL_W}" height="{SMALL_H}" viewBox="0 0 {SMALL_W} '
            f'{SMALL_H}" role="img" aria-label="recovery time per phase">'
            + _axes(top, "min", "Recovery time per phase (min), target dashed",
                    [r for r, _, _ in bars])
            + "".join(parts) + "</svg>")


def _table_rows(record: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for table in _list(record.get("tables")):
        if isinstance(table, Mapping) and (rows := _num(table.get("rows"))) is not None:
            name = ".".join(_text(table.get(k)) for k in ("database", "schema", "name") if table.get(k) is not None)
            out[name] = rows
    return out


def rows_chart(history: Sequence[Mapping[str, Any]], css_id: str) -> str:
    """Row counts of the largest tables (as of the newest drill that counted them) across the server's drills."""
    counted = [(r, _table_rows(r)) for r in history]
    counted = [c for c in counted if c[1]][-SMALL_BARS:]
    if not counted:
        return f'<svg id="{css_id}" class="rows-chart" width="{SMALL_W}" height="40" role="img"><text x="8" ' \
               'y="24" font-size="12">largest tables: no row counts yet</text></svg>'
    newest = counted[-1][1]
    names = sorted(newest, key=lambda n: (-newest[n], n))[:TREND_TABLES]
    top = max(rows.get(n, 0.0) for _, rows in counted for n in names) or 1.0
    step = (SMALL_W - PAD - 24) / max(len(counted) - 1, 1)

    def xy(i: int, value: float) -> str:
        return f"{PAD + 8 + i * step:.1f},{SMALL_H - 24 - (SMALL_H - 52) * value / top:.1f}"

    parts, legend = [], []
    for n, name in enumerate(names):
        colour = TABLE_COLOURS[n % len(TABLE_COLOURS)]
        points = [(i, rows[name]) for i, (_, rows) in enumerate(counted) if name in rows]
        parts.append(f'<polyline class="table-trend" points="{" ".join(xy(i, v) for i, v in points)}" '
                     f'fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle class="table-point" cx="{xy(i, v).split(",")[0]}" cy="{xy(i, v).split(",")[1]}" '
                  f'r="3" fill="{colour}"><title>{escape(name)}: {v:,.0f} rows</title></circle>' for i, v in points]
        legend.append(f'<tspan fill="{colour}">\u25a0</tspan> {escape(name)} ({_short(newest[name])})')
    return (f'<svg id="{css_id}" class="rows-chart" width="{SMALL_W}" height="{SMALL_H + 14 * len(names)}" '
            f'viewBox="0 0 {SMALL_W} {SMALL_H + 14 * len(names)}" role="img" aria-label="row counts">'
            + _axes(top, "rows", "Rows of the largest tables", [r for r, _ in counted])
            + "".join(parts)
            + "".join(f'<text class="table-name" x="{PAD}" y="{SMALL_H + 4 + 14 * i}" font-size="11">{t}</text>'
                      for i, t in enumerate(legend)) + "</svg>")


def _age_cell(record: Mapping[str, Any]) -> str:
    rpo = _dict(record.get("rpo"))
    target = _num(rpo.get("target"))
    text = _hours(record.get("pointAgeSeconds"))
    if target is not None:
        text += f" (target {_hours(target)})"
    return f'<span class="failed">{text}</span>' if rpo.get("breached") is True else text


def _rto_cell(record: Mapping[str, Any]) -> str:
    rto = _dict(record.get("rto"))
    seconds, target = _num(rto.get("seconds")), _num(rto.get("target"))
    text = _minutes(seconds) + (f" (target {_minutes(target)})" if target is not None else "")
    return f'<span class="failed">{text}</span>' if rto.get("breached") is True else text


def _server_row(r: Mapping[str, Any]) -> str:
    failing = failing_check(r)
    return (f"<tr><td>{escape(_text(r.get('server')))}</td><td>{escape(_text(r.get('instanceName')))}</td>"
            f"<td>{escape(_text(r.get('runId')))}</td><td>{_status(r.get('status'))}</td>"
            f'<td class="failing-check">{escape(failing[:300])}</td>'
            f"<td>{escape(_text(r.get('reason')))}</td><td>{_age_cell(r)}</td><td>{_rto_cell(r)}</td>"
            f"<td>{_minutes(r.get('restoreDurationSeconds'))}</td>"
            f"<td>{len(_dict(r.get('databases')) or _list(r.get('databases')))}</td>"
            f"<td>{escape(_text(r.get('message'))[:300])}</td></tr>")


def _server_card(index: int, record: Mapping[str, Any], instances: Sequence[Mapping[str, Any]]) -> str:
    history = _history(instances, _server_key(record))
    name = _text(record.get("server") or record.get("instanceName"))
    failing = failing_check(record)
    return (f'<section class="server-card" id="server-{index}"><h3>{escape(name)} {_status(record.get("status"))}'
            + (f' <span class="failing-check">{escape(failing[:200])}</span>' if failing else "") + "</h3>"
            + rto_chart(history, f"rto-chart-{index}") + rows_chart(history, f"rows-chart-{index}") + "</section>")


def _run_row(s: Mapping[str, Any]) -> str:
    evidence = _dict(s.get("evidence"))
    return (f"<tr><td>{escape(_text(s.get('runId')))}</td><td>{_status(s.get('status'))}</td>"
            f"<td>{_int(s.get('passed'))}</td><td>{_int(s.get('failed'))}</td><td>{_int(s.get('skipped'))}</td>"
            f"<td>{escape(_text(s.get('finishedAt')))}</td><td>{_int(_dict(s.get('cleanup')).get('deletedFiles'))}"
            f"</td><td><code>{escape(_text(evidence.get('hash'))[:16])}</code></td></tr>")


def unreadable(record: Any) -> dict[str, str] | None:
    """``{"row", "problem"}`` of a row that could not be read (records.py's stand-in, or not a record at all)."""
    if not isinstance(record, Mapping):
        return {"row": "?", "problem": f"not a record: {type(record).__name__}"}
    marker = record.get(UNREADABLE)
    if record.get("status") != UNREADABLE or not isinstance(marker, Mapping):
        return None
    return {"row": _text(marker.get("row")), "problem": _text(marker.get("problem"))}


def _drawn(draw: Any, record: Mapping[str, Any], bad: list[dict[str, str]]) -> str:
    """``draw(record)``; a record it fails on joins the unreadable rows instead of failing the page."""
    try:
        return str(draw(record))
    except Exception as exc:
        bad.append({"row": f"{_text(record.get('runId'))[:100]}/{_text(record.get('instanceName'))[:100]}",
                    "problem": f"could not be drawn: {type(exc).__name__}: {exc}"})
        return ""


def _section(draw: Callable[[], str]) -> str:
    """A chart of many records; if it fails anyway, a note in its place instead of no page."""
    try:
        return draw()
    except Exception as exc:
        return f'<p class="unreadable">this part could not be drawn: {escape(f"{type(exc).__name__}: {exc}"[:300])}</p>'


def _unreadable_rows(bad: Sequence[Mapping[str, str]]) -> str:
    if not bad:
        return ""
    rows = "".join(f'<tr><td><code>{escape(b["row"][:SHOWN_CHARS])}</code></td><td><span class="unreadable">'
                   f'unreadable</span></td><td>{escape(b["problem"][:SHOWN_CHARS])}</td></tr>' for b in bad)
    return ("<h2>Unreadable rows</h2><p class=\"note\">Rows of the results table that are not drill records as "
            "this app writes them (edited by hand, or written by something else). They are left out above.</p>"
            '<table id="unreadable"><thead><tr><th>row (run/key)</th><th>result</th><th>what is wrong</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def render_dashboard(runs: Sequence[Mapping[str, Any]], instances: Sequence[Mapping[str, Any]],
                     *, generated_at: str) -> str:
    """The page: latest drill per server with its failing check, per-server RTO phases and table trends, point
    age and restore duration over time, recent runs, and the rows that could not be read."""
    bad = [u for r in [*runs, *instances] if (u := unreadable(r)) is not None]
    runs = [s for s in runs if unreadable(s) is None]
    instances = [r for r in instances if unreadable(r) is None]
    latest = latest_per_server(instances)
    server_rows = "".join(_drawn(_server_row, r, bad) for r in latest)
    cards = "".join(_drawn(lambda r, i=i: _server_card(i, r, instances), r, bad) for i, r in enumerate(latest))
    run_rows = "".join(_drawn(_run_row, s, bad) for s in sorted(runs, key=lambda s: _text(s.get("runId")),
                                                                  reverse=True))
    failing = sum(1 for r in latest if r.get("status") == "failed")
    headline = (f"{failing} of {len(latest)} servers failed their latest drill" if failing
                else f"all {len(latest)} servers passed their latest drill")
    if bad:
        headline += f"; {len(bad)} row{'s' if len(bad) > 1 else ''} could not be read (listed at the end)"
    legend = "".join(f'<span><i class="swatch" style="background:{c}"></i>{escape(p)}</span>'
                     for p, c in PHASE_COLOURS.items())
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Restore drills</title>"
        f"<style>{STYLE}</style></head><body><h1>Restore drills</h1>"
        f'<p class="note" id="headline">{escape(headline)}; generated {escape(generated_at)}</p>'
        "<h2>Latest drill per server</h2><table id=\"servers\"><thead><tr><th>server</th><th>backup instance</th>"
        "<th>run</th><th>result</th><th>failing check</th><th>reason</th><th>point age (RPO)</th><th>RTO</th>"
        "<th>restore</th><th>databases</th><th>details</th></tr></thead><tbody>"
        + server_rows + "</tbody></table>"
        "<h2>Per server</h2><div class=\"legend\" id=\"phase-legend\">" + legend
        + '<span><i class="swatch" style="background:#b42318"></i>RTO target</span></div>'
        '<div id="server-cards">' + cards + "</div>"
        "<h2>Over time</h2><div class=\"legend\"><span><i class=\"swatch\" style=\"background:#1a7f37\"></i>passed"
        "</span><span><i class=\"swatch\" style=\"background:#b42318\"></i>failed</span><span>"
        "<i class=\"swatch\" style=\"background:#0969da\"></i>worst per run</span></div>"
        + _section(lambda: chart("Recovery point age (hours)", _series(instances, "pointAgeSeconds", 3600), "h",
                                 "age-chart"))
        + "<br>"
        + _section(lambda: chart("Restore duration (minutes)", _series(instances, "restoreDurationSeconds", 60),
                                 "min", "duration-chart"))
        + "<h2>Runs</h2><table id=\"runs\"><thead><tr><th>run</th><th>result</th><th>passed</th><th>failed</th>"
        "<th>skipped</th><th>finished</th><th>files cleaned up</th><th>evidence hash</th></tr></thead><tbody>"
        + run_rows + "</tbody></table>" + _unreadable_rows(bad) + "</body></html>"
    )
