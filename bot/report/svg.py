"""Charts as hand-written inline SVG: no JavaScript, no fonts to load, text stays text (searchable,
readable by screen readers), and the page stays a few kilobytes. Each chart scales to the phone's width."""

from __future__ import annotations

from html import escape

COLOURS = {"answer": "#2e7d32", "suggest": "#f9a825", "decline": "#c62828", "up": "#2e7d32", "down": "#c62828"}
LABELS = {"answer": "risposte", "suggest": "suggerimenti", "decline": "nessuna risposta"}


def stacked_days(days: list[tuple[str, dict[str, int]]], keys: tuple[str, ...] = ("answer", "suggest", "decline"),
                 title: str = "Domande al giorno") -> str:
    """Vertical stacked bars, one per day: answered / suggested / declined."""
    # Sizes are in viewBox units: on a phone the 640-unit chart is about 380 px wide, so text of 18 units
    # reads as about 11 px.
    width, height, left, bottom, top = 640, 260, 52, 34, 14
    peak = max((sum(v.values()) for _, v in days), default=0) or 1
    slot = (width - left - 8) / max(len(days), 1)
    bar = max(slot * 0.8, 1.0)
    parts = [f'<svg class="chart" data-chart="days" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]
    for frac in (0.0, 0.5, 1.0):
        y = height - bottom - frac * (height - bottom - top)
        parts.append(f'<line x1="{left}" x2="{width - 4}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 6:.1f}" text-anchor="end" font-size="17">{round(peak * frac)}</text>')
    for i, (label, values) in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = height - bottom
        for key in keys:
            value = values.get(key, 0)
            if not value:
                continue
            h = value / peak * (height - bottom - top)
            y -= h
            parts.append(f'<rect class="bar" data-key="{key}" data-value="{value}" x="{x:.1f}" y="{y:.1f}" '
                         f'width="{bar:.1f}" height="{h:.1f}" fill="{COLOURS[key]}">'
                         f"<title>{escape(label)}: {value} {LABELS.get(key, key)}</title></rect>")
        if len(days) <= 8 or i % max(len(days) // 5, 1) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 22}" text-anchor="middle" '
                         f'font-size="17">{escape(label[8:10] + "/" + label[5:7])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def horizontal(rows: list[tuple[str, dict[str, int]]], keys: tuple[str, ...], title: str, name: str) -> str:
    """Horizontal stacked bars, one per row (e.g. 👍/👎 per area, or the shares of decisions)."""
    row_h, label_w, width = 40, 250, 640
    height = row_h * max(len(rows), 1) + 8
    peak = max((sum(v.values()) for _, v in rows), default=0) or 1
    parts = [f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]
    for i, (label, values) in enumerate(rows):
        y = 4 + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 24}" text-anchor="end" font-size="18">{escape(label[:24])}</text>')
        x = float(label_w)
        for key in keys:
            value = values.get(key, 0)
            if not value:
                continue
            w = value / peak * (width - label_w - 70)
            parts.append(f'<rect class="bar" data-key="{key}" data-value="{value}" x="{x:.1f}" y="{y}" '
                         f'width="{w:.1f}" height="{row_h - 10}" fill="{COLOURS[key]}">'
                         f"<title>{escape(label)}: {value}</title></rect>")
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 24}" font-size="18">{sum(values.values())}</text>')
    parts.append("</svg>")
    return "".join(parts)
