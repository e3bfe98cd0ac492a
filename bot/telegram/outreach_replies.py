"""Replies of alerts, saved measures and the handover to a person (text + buttons). No I/O but
`privacy_section`, which reads the database."""

from __future__ import annotations

import datetime as dt

from bot.alert_store import PROFILE_TOPIC
from bot.alerts import OfficeHours, QuietHours
from bot.knowledge.schema import Area
from bot.measures.schema import Measure
from bot.storage import Storage
from bot.telegram.buttons import AlertTopic, Card, Handover, HandoverCancel, HandoverSend, Unsave
from bot.telegram.markup import Button, Reply, escape
from bot.telegram.measure_replies import measure_reply, short_status
from bot.telegram.outreach_texts import OFFICE_DAYS, STAFF_ANONYMOUS, STAFF_CASE, OutreachTexts, outreach
from bot.telegram.texts import Lang, Texts


def topic_names(topics: set[str], areas: list[Area], ot: OutreachTexts, lang: Lang) -> str:
    """The subscribed topics as words: area titles, and "what matches my profile"."""
    titles = {a.id: (a.title_en if lang == "en" else a.title) for a in areas}
    names = [ot.alerts_profile] if PROFILE_TOPIC in topics else []
    names += [titles[t] for t in sorted(topics) if t in titles]
    return ", ".join(escape(n) for n in names)


def alerts_reply(topics: set[str], areas: list[Area], quiet: QuietHours, ot: OutreachTexts, lang: Lang) -> Reply:
    """/avvisi: what the user follows now, and one toggle per topic."""
    quiet_line = ""
    if quiet.start is not None and quiet.end is not None:
        hours = (f"between {quiet.start:%H:%M} and {quiet.end:%H:%M}" if lang == "en"
                 else f"{quiet.start:%H:%M} e le {quiet.end:%H:%M}")
        quiet_line = ot.alerts_quiet.format(hours=hours)
    now = ot.alerts_now.format(topics=topic_names(topics, areas, ot, lang)) if topics else ot.alerts_none
    text = ot.alerts_menu.format(quiet=quiet_line) + "\n\n" + now

    def mark(on: bool) -> str:
        return "✅ " if on else "▫️ "

    rows = [[Button(mark(PROFILE_TOPIC in topics) + ot.alerts_profile, AlertTopic(PROFILE_TOPIC).encode())]]
    rows += [[Button(mark(a.id in topics) + (a.title_en if lang == "en" else a.title), AlertTopic(a.id).encode())]
             for a in areas]
    if topics:
        rows.append([Button(ot.alerts_off, AlertTopic("-").encode())])
    return Reply(text, rows)


def alert_reply(kind: str, measure: Measure, today: dt.date, closing_days: int, t: Texts, ot: OutreachTexts,
                lang: Lang) -> Reply:
    """One alert or reminder: a heading line, the measure's card (with "Vai al bando" and "Salva"), how to stop."""
    if kind == "closing" and measure.close_date is not None:
        days = (measure.close_date - today).days
        head = ot.alert_closing_today if days <= 0 else ot.alert_closing.format(days=days)
    elif kind == "opening":
        head = ot.alert_opening
    else:
        head = ot.alert_open
    card = measure_reply(measure, today, closing_days, t, lang)
    return Reply(f"{head}\n\n{card.text}\n\n{ot.alert_footer}", card.buttons)


def saved_reply(saved: list[tuple[str, Measure | None]], today: dt.date, closing_days: int, reminder_days: int,
                ot: OutreachTexts, lang: Lang) -> Reply:
    """/salvati: each saved measure with its status now, a button to its card and one to remove it."""
    if not saved:
        return Reply(ot.saved_none)
    lines = [ot.saved_title.format(days=reminder_days), ""]
    rows = []
    for n, (measure_id, measure) in enumerate(saved, start=1):
        if measure is None:
            lines.append(f"{n}. <i>{escape(measure_id)}</i> — {ot.saved_gone}\n")
            rows.append([Button(f"{n}. {ot.unsave}", Unsave(measure_id).encode())])
            continue
        lines.append(f"{n}. {short_status(measure, today, closing_days, lang)}\n")
        rows.append([Button(f"{n}. {_short(measure.title)}", Card(measure_id).encode()),
                     Button(ot.unsave, Unsave(measure_id).encode())])
    return Reply("\n".join(lines).rstrip(), rows)


def _short(title: str, limit: int = 40) -> str:
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"


def consent_reply(qid: int, question: str, attempt: str, profile: str, ot: OutreachTexts) -> Reply:
    """Exactly what would go to staff, and the two ways to agree (anonymous or named) or cancel."""
    text = ot.handover_consent.format(question=escape(question), attempt=escape(attempt), profile=escape(profile))
    return Reply(text, [[Button(ot.handover_send, HandoverSend(qid, 0).encode())],
                        [Button(ot.handover_send_named, HandoverSend(qid, 1).encode())],
                        [Button(ot.handover_cancel, HandoverCancel(qid).encode())]])


def staff_case_text(case: int, asked: dt.datetime, question: str, attempt: str, profile: str,
                    who: str | None) -> str:
    """The message staff see in their group for a new case."""
    shown = escape(who) if who else STAFF_ANONYMOUS.format(case=case)
    return STAFF_CASE.format(case=case, asked=f"{asked:%d/%m/%Y %H:%M}", question=escape(question),
                             attempt=escape(attempt), profile=escape(profile), who=shown)


def office_hours_text(hours: OfficeHours, lang: Lang) -> str:
    """'lun–ven 09:00–17:00' / 'Mon–Fri 09:00–17:00'."""
    days = OFFICE_DAYS[lang]
    return f"{days[hours.first_day]}–{days[hours.last_day]} {hours.start:%H:%M}–{hours.end:%H:%M}"


def when_text(moment: dt.datetime, lang: Lang) -> str:
    """'lun 30/11 alle 09:00' / 'Mon 30/11 at 09:00'."""
    day = OFFICE_DAYS[lang][moment.weekday()]
    return f"{day} {moment:%d/%m} at {moment:%H:%M}" if lang == "en" else f"{day} {moment:%d/%m} alle {moment:%H:%M}"


def privacy_text(contact: bool, topics: str | None, saved: int, cases: int, ot: OutreachTexts) -> str:
    """The lines /privacy adds about alerts, saved measures and cases ('' when there is nothing)."""
    if not (contact or topics or saved or cases):
        return ""
    lines = [ot.privacy_contact] if contact else []
    if topics:
        lines.append(ot.privacy_alerts.format(topics=topics))
    if saved:
        lines.append(ot.privacy_saved.format(count=saved))
    if cases:
        lines.append(ot.privacy_cases.format(count=cases))
    return "\n".join(lines)


def handover_button(qid: int, lang: Lang) -> Button:
    """"Parla con una persona" for logged question `qid` (shown when a staff group is set)."""
    return Button(outreach(lang).handover, Handover(qid).encode())


def privacy_section(storage: Storage, user_id: int, areas: list[Area], lang: Lang) -> str:
    """What /privacy adds about alerts, saved measures and cases (reads the database: call it off
    the event loop)."""
    ot = outreach(lang)
    topics = storage.subscriptions(user_id)
    return privacy_text(storage.contact(user_id) is not None,
                        topic_names(topics, areas, ot, lang) if topics else None,
                        len(storage.saved_measures(user_id)), len(storage.user_cases(user_id)), ot)
