"""Replies about support measures: the measure card, the /profilo steps and the "Cosa c'è per me?" list.

The card follows UX.md: what it is, whether one can still apply (status line, with the window note
beside it), whether it is for me, how much, who grants it; then "Vai al bando", "⭐ Salva" and the source in
small print with the date of the data. Everything shown comes from the measure's file, escaped.
"""

from __future__ import annotations

import datetime as dt

from bot.measures.card import card
from bot.measures.eligibility import Profile
from bot.measures.schema import Measure
from bot.measures.vocab import REGIONS, SECTORS, SIZE_IDS, size_label
from bot.telegram.buttons import Card, ForMe, ProfileSet, Save
from bot.telegram.markup import Button, Reply, escape
from bot.telegram.outreach_texts import outreach
from bot.telegram.texts import Lang, Texts

FOR_ME_PAGE = 3          # measures per page of "Cosa c'è per me?"
PROFILE_SIZES = ("micro", "piccola", "media", "grande")  # the firm sizes a business can pick


def measure_reply(measure: Measure, today: dt.date, closing_days: int, t: Texts, lang: Lang) -> Reply:
    """The card of one measure, with the official page as a URL button."""
    c = card(measure, today, lang, closing_days)
    lines = [f"<b>{escape(c.title)}</b>", escape(c.summary), "", f"<b>{escape(c.status_line)}</b>"]
    if c.window_note:
        lines.append(f"<i>{escape(c.window_note)}</i>")
    lines += [escape(part) for part in (c.who, c.how_much, c.issuer) if part]
    lines += ["", f"<i>{escape(c.source)}</i>"]
    row = [Button(t.go_to_call, url=c.url)] if c.url else []
    row.append(Button(outreach(lang).save, Save(measure.id).encode()))  # for /salvati and its reminders
    return Reply("\n".join(lines), [row])


def short_status(measure: Measure, today: dt.date, closing_days: int, lang: Lang) -> str:
    """'<b>Title</b>\n✅ Aperto fino al …' for lists of measures."""
    c = card(measure, today, lang, closing_days)
    return f"<b>{escape(c.title)}</b>\n{escape(c.status_line)}"


# --- /profilo -------------------------------------------------------------------------------------

def profile_step_reply(step: str, t: Texts, lang: Lang) -> Reply:
    """One step of /profilo: the question and a button per choice, plus "Salta"."""
    if step == "region":
        text, choices = t.profile_region, [(r, r) for r in REGIONS]
    elif step == "size":
        text, choices = t.profile_size, [(size_label(s, lang), s) for s in PROFILE_SIZES]
    else:
        text, choices = t.profile_sector, [(s, s) for s in SECTORS]
    buttons = [Button(label, ProfileSet(step, value).encode()) for label, value in choices]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([Button(t.profile_skip, ProfileSet(step, "-").encode())])
    return Reply(text, rows)


def profile_text(profile: Profile | None, t: Texts, lang: Lang) -> str:
    """The profile as three lines, "non indicato" where the user skipped."""
    p = profile or Profile()
    return t.profile_line.format(
        region=escape(p.region or t.not_said),
        size=escape(size_label(p.size, lang) if p.size else t.not_said),
        sector=escape(p.sector or t.not_said),
    )


def profile_done_reply(profile: Profile, t: Texts, lang: Lang) -> Reply:
    """The saved profile and the button to see what fits it."""
    return Reply(t.profile_done.format(profile=profile_text(profile, t, lang)),
                 [[Button(t.for_me, ForMe(0).encode())]])


def valid_choice(field: str, value: str) -> bool:
    """True for a value /profilo offers (or "-", skip): tampered button data is refused."""
    allowed = {"region": REGIONS, "size": SIZE_IDS, "sector": tuple(SECTORS)}.get(field, ())
    return value == "-" or value in allowed


# --- "Cosa c'è per me?" ---------------------------------------------------------------------------

def for_me_reply(measures: list[Measure], offset: int, profile: Profile | None, today: dt.date,
                 closing_days: int, t: Texts, lang: Lang) -> Reply:
    """A page of the open measures that fit, each with a button to its card, and "Altri"."""
    intro = [] if profile is not None and any((profile.region, profile.size, profile.sector)) \
        else [t.for_me_no_profile, ""]
    if not measures:
        return Reply("\n".join([*intro, t.for_me_none]))
    page = measures[offset:offset + FOR_ME_PAGE]
    if not page:  # an old "Altri" button after the list got shorter
        offset, page = 0, measures[:FOR_ME_PAGE]
    lines = [*intro, t.for_me_title.format(first=offset + 1, last=offset + len(page), total=len(measures)), ""]
    lines += [short_status(m, today, closing_days, lang) + "\n" for m in page]
    rows = [[Button(button_title(m.title), Card(m.id).encode())] for m in page]
    if offset + len(page) < len(measures):
        rows.append([Button(t.for_me_more, ForMe(offset + len(page)).encode())])
    return Reply("\n".join(lines).rstrip(), rows)


def button_title(title: str, limit: int = 60) -> str:
    """A measure title short enough for a button, cut at a word."""
    return title if len(title) <= limit else title[: limit - 1].rsplit(" ", 1)[0] + "…"
