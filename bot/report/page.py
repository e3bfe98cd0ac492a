"""The report as one self-contained HTML page (inline CSS and SVG, no script, no network), Italian
for staff with the English words beside the headings."""

from __future__ import annotations

import datetime as dt
from html import escape

from bot.report.data import Figures
from bot.report.groups import Group
from bot.report.svg import LABELS, horizontal, stacked_days

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:860px;padding:12px;
color:#222;line-height:1.4}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.en{color:#777;font-weight:normal;font-size:.85em}
.chart{width:100%;height:auto;display:block}
.kpi{display:flex;flex-wrap:wrap;gap:8px}.kpi div{background:#f4f4f4;border-radius:6px;padding:6px 10px}
.kpi b{display:block;font-size:1.3em}
.group{border:1px solid #ddd;border-radius:6px;padding:8px 10px;margin:8px 0}
.group h3{margin:0 0 4px;font-size:1em}.count{float:right;color:#555}
.closest{color:#333;font-size:.92em;margin-top:4px}.weak{color:#c62828}
ul{margin:4px 0;padding-left:20px}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;
padding:4px;text-align:left;font-size:.92em}
.legend span{display:inline-block;margin-right:12px;font-size:.85em}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def render(figures: Figures, groups: list[Group], generated: dt.datetime, max_groups: int = 30,
           weak_score: float = 0.6) -> str:
    """The whole page."""
    since = figures.since.strftime("%d/%m/%Y") if figures.since else "inizio del registro"
    days = [(d.day.isoformat(), {"answer": d.answer, "suggest": d.suggest, "decline": d.decline}) for d in figures.days]
    shares = [(LABELS[k], {k: sum(getattr(d, k) for d in figures.days)}) for k in ("answer", "suggest", "decline")]
    feedback = [(figures.area_titles.get(a, a or "—"), {"up": up, "down": down})
                for a, (up, down) in figures.feedback_by_area.items()]
    parts = [
        "<!doctype html>", '<html lang="it"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Sportello — rapporto</title>", f"<style>{CSS}</style></head><body>",
        f"<h1>Sportello — rapporto <span class='en'>report</span></h1>",
        f"<p>Domande dal {since} al {figures.today.strftime('%d/%m/%Y')}; generato il "
        f"{generated.strftime('%d/%m/%Y %H:%M')}.</p>",
        '<div class="kpi">',
        f"<div><b>{figures.total}</b>domande</div>",
        f"<div><b>{figures.share('answer'):.0%}</b>con risposta</div>",
        f"<div><b>{figures.share('suggest'):.0%}</b>con suggerimenti</div>",
        f"<div><b>{figures.share('decline'):.0%}</b>senza risposta</div>",
        f"<div><b>{sum(d.up for d in figures.days)} / {sum(d.down for d in figures.days)}</b>risposte utili / non utili</div>",
    ]
    if figures.handovers is not None:
        wait = f"{figures.median_reply_hours:.1f} h" if figures.median_reply_hours is not None else "—"
        parts += [f"<div><b>{figures.handovers}</b>passate a una persona</div>",
                  f"<div><b>{wait}</b>attesa mediana della prima risposta ({figures.replied} risposte)</div>"]
    parts.append("</div>")
    parts += [
        "<h2>Domande al giorno <span class='en'>questions per day</span></h2>",
        '<p class="legend">' + "".join(f'<span><i style="background:{c}"></i>{LABELS[k]}</span>'
                                       for k, c in (("answer", "#2e7d32"), ("suggest", "#f9a825"),
                                                    ("decline", "#c62828"))) + "</p>",
        stacked_days(days),
        "<h2>Esiti <span class='en'>answered / suggested / declined</span></h2>",
        horizontal(shares, ("answer", "suggest", "decline"), "Esiti", "shares"),
        "<h2>Utile / non utile per area <span class='en'>feedback by area</span></h2>",
        '<p class="legend"><span><i style="background:#2e7d32"></i>utile</span>'
        '<span><i style="background:#c62828"></i>non utile</span></p>',
        horizontal(feedback, ("up", "down"), "Feedback per area", "feedback") if feedback
        else "<p>Nessun feedback nel periodo.</p>",
        "<h2>Domande senza risposta o giudicate non utili, per significato <span class='en'>unanswered and "
        "disliked questions, grouped by meaning</span></h2>",
        f"<p>{len(groups)} gruppi; i più grandi per primi. Per ognuno la voce FAQ o misura più vicina e la "
        f"somiglianza (0–1): sotto {weak_score:.2f} la conoscenza probabilmente non copre il tema.</p>",
    ]
    for n, group in enumerate(groups[:max_groups], start=1):
        weak = " weak" if group.closest_score < weak_score else ""
        parts += [
            f'<div class="group" data-count="{group.count}"><h3><span class="count">{group.count}×</span>'
            f"{n}. {escape(group.question)}</h3><ul>",
            *(f"<li>{escape(q)} <small>({c}×)</small></li>" for q, c in group.examples[:4]),
            "</ul>",
            f'<div class="closest{weak}" data-closest="{escape(group.closest_id)}" '
            f'data-score="{group.closest_score:.3f}">Più vicina: <b>{escape(group.closest_title)}</b> '
            f"<small>({escape(group.closest_id)}, somiglianza {group.closest_score:.2f}; "
            f"{group.unanswered} senza risposta, {group.disliked} non utili)</small></div></div>",
        ]
    parts.append("<h2>Misure chiuse o in scadenza di cui si chiede <span class='en'>closed or closing measures "
                 "people ask about</span></h2>")
    if figures.measures:
        parts.append("<table><tr><th>Misura</th><th>Stato</th><th>Chiusura</th><th>Volte</th></tr>")
        for m in figures.measures:
            state = "chiusa" if m.status == "closed" else "in scadenza"
            close = m.close_date.strftime("%d/%m/%Y") if m.close_date else "—"
            parts.append(f"<tr><td>{escape(m.title)}</td><td>{state}</td><td>{close}</td><td>{m.times}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>Nessuna.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
