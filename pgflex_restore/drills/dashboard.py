"""The drill dashboard: one self-contained HTML page (inline CSS and SVG, no scripts, no external assets).

It answers at a glance: did every server's latest drill pass, how old were the points restored, how long do
restores take and is that drifting. Pure: records in, HTML text out; every value from storage is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from pgflex_restore.timeutil import parse_datetime

WIDTH, HEIGHT, PAD = 720, 200, 40
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1b1f24;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}p.note{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;background:#fff;font-size:13px}th,td{border:1px solid #d0d7de;padding:5px 9px;
text-align:left}th{background:#f3f4f6}.passed{color:#116329;font-weight:600}.failed{color:#b42318;font-weight:600}
.skipped{color:#6e7781;font-weight:600}svg{background:#fff;border:1px solid #d0d7de}
.legend span{margin-right:16px;font-size:12px}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    try:
        return parse_datetime(str(value)) if value else None
    except ValueError:
        return None


def _hours(seconds: Any) -> str:
    value = _num(seconds)
    return "" if value is None else f"{value / 3600:.1f} h"


def _minutes(seconds: Any) -> str:
    value = _num(seconds)
    return "" if value is None else f"{value / 60:.1f} min"


def latest_per_server(instances: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Each backup instance's most recent drill record (run ids sort by time)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for record in instances:
        key = str(record.get("backupInstance") or record.get("instanceName"))
        if key not in latest or str(record.get("runId")) > str(latest[key].get("runId")):
            latest[key] = record
    return sorted(latest.values(), key=lambda r: (str(r.get("server") or r.get("instanceName"))))


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
            out.append((when, value / scale, str(record.get("status"))))
    return sorted(out)


def _status(value: Any) -> str:
    text = escape(str(value or ""))
    return f'<span class="{text}">{text}</span>'


def render_dashboard(runs: Sequence[Mapping[str, Any]], instances: Sequence[Mapping[str, Any]],
                     *, generated_at: str) -> str:
    """The page: latest drill per server, point age and restore duration over time, recent runs."""
    latest = latest_per_server(instances)
    server_rows = "".join(
        f"<tr><td>{escape(str(r.get('server') or ''))}</td><td>{escape(str(r.get('instanceName') or ''))}</td>"
        f"<td>{escape(str(r.get('runId') or ''))}</td><td>{_status(r.get('status'))}</td>"
        f"<td>{escape(str(r.get('reason') or ''))}</td><td>{_hours(r.get('pointAgeSeconds'))}</td>"
        f"<td>{_minutes(r.get('restoreDurationSeconds'))}</td><td>{len(r.get('databases') or {})}</td>"
        f"<td>{escape(str(r.get('message') or ''))[:300]}</td></tr>"
        for r in latest
    )
    run_rows = "".join(
        f"<tr><td>{escape(str(s.get('runId')))}</td><td>{_status(s.get('status'))}</td>"
        f"<td>{int(s.get('passed') or 0)}</td><td>{int(s.get('failed') or 0)}</td>"
        f"<td>{int(s.get('skipped') or 0)}</td><td>{escape(str(s.get('finishedAt') or ''))}</td>"
        f"<td>{int((s.get('cleanup') or {}).get('deletedFiles') or 0)}</td></tr>"
        for s in sorted(runs, key=lambda s: str(s.get("runId")), reverse=True)
    )
    failing = sum(1 for r in latest if r.get("status") == "failed")
    headline = (f"{failing} of {len(latest)} servers failed their latest drill" if failing
                else f"all {len(latest)} servers passed their latest drill")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Restore drills</title>"
        f"<style>{STYLE}</style></head><body><h1>Restore drills</h1>"
        f'<p class="note" id="headline">{escape(headline)}; generated {escape(generated_at)}</p>'
        "<h2>Latest drill per server</h2><table id=\"servers\"><thead><tr><th>server</th><th>backup instance</th>"
        "<th>run</th><th>result</th><th>reason</th><th>point age</th><th>restore</th><th>databases</th>"
        f"<th>details</th></tr></thead><tbody>{server_rows}</tbody></table>"
        "<h2>Over time</h2><div class=\"legend\"><span><i class=\"swatch\" style=\"background:#1a7f37\"></i>passed"
        "</span><span><i class=\"swatch\" style=\"background:#b42318\"></i>failed</span><span>"
        "<i class=\"swatch\" style=\"background:#0969da\"></i>worst per run</span></div>"
        + chart("Recovery point age (hours)", _series(instances, "pointAgeSeconds", 3600), "h", "age-chart")
        + "<br>"
        + chart("Restore duration (minutes)", _series(instances, "restoreDurationSeconds", 60), "min",
                "duration-chart")
        + "<h2>Runs</h2><table id=\"runs\"><thead><tr><th>run</th><th>result</th><th>passed</th><th>failed</th>"
        f"<th>skipped</th><th>finished</th><th>files cleaned up</th></tr></thead><tbody>{run_rows}</tbody></table>"
        "</body></html>"
    )
