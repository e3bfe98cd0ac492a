"""What to tell whom, and when: measure events, who wants them, reminders, quiet and office hours.

No Telegram and no clock here: every function takes the day or the time it reasons about, so tests
say which day it is. Status comes from `bot.measures.status` (never stored).

A measure event is "this measure can now be applied for, and could not at the last check": a measure
new in the index and open, one whose dates changed so that it reopened, or one whose opening day came.
Its key carries the measure's dates, so a reopening with new dates is a new event, and the same
opening is one event however many times it is computed. An event happens once: the keys of every
opening ever seen available are kept (`available_keys`, not per user), so a measure that leaves the
index and comes back with the same dates is no new event, and only those subscribed when it
happened hear of it: whoever subscribes later (also after /forget) gets only later events.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.alert_store import PROFILE_TOPIC, Queued, Subscriber
from bot.measures.eligibility import Profile, matches
from bot.measures.schema import Measure
from bot.measures.status import is_available, status

Dates = tuple[dt.date | None, dt.date | None]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Event:
    """A measure that became available: `key` identifies this opening, for exactly-once delivery."""

    key: str
    measure: Measure


def dates(measure: Measure) -> Dates:
    return measure.open_date, measure.close_date


def open_key(measure_id: str, opens: dt.date | None, closes: dt.date | None) -> str:
    return f"open:{measure_id}:{opens or ''}:{closes or ''}"


def measure_events(seen: dict[str, Dates], checked_on: dt.date | None, current: dict[str, Measure],
                   today: dt.date) -> list[Event]:
    """The measures available today that were not available at the last check (`seen` as of
    `checked_on`). Never checked before (`checked_on` None): no events, the index is the baseline
    (a new deployment must not alert everyone about every open measure)."""
    if checked_on is None:
        return []
    events = []
    for measure_id, measure in sorted(current.items()):
        if not is_available(status(measure, today)):
            continue
        before = seen.get(measure_id)
        if before is not None and _available(before, checked_on):
            continue
        events.append(Event(open_key(measure_id, *dates(measure)), measure))
    return events


def available_keys(current: dict[str, Measure], today: dt.date) -> dict[str, dt.date | None]:
    """The opening keys of the measures available today, with their closing day (after which the
    key can never be an event again, so it may be forgotten)."""
    return {open_key(m.id, *dates(m)): m.close_date for m in current.values() if is_available(status(m, today))}


def _available(when: Dates, day: dt.date) -> bool:
    opens, closes = when
    if opens is None and closes is None:
        return False  # "unknown" status: never counted as available
    return (opens is None or opens <= day) and (closes is None or day <= closes)


def wants(subscriber: Subscriber, measure: Measure) -> bool:
    """True when a subscriber should hear about this measure: it fits their profile (region, size,
    sector; an empty profile fits all) and they follow its area or "what matches my profile"."""
    profile = Profile(**subscriber.profile) if subscriber.profile else Profile()
    if not matches(measure, profile):
        return False
    return PROFILE_TOPIC in subscriber.topics or bool(subscriber.topics & set(measure.areas))


def alerts_for(subscribers: list[Subscriber], events: list[Event]) -> list[Queued]:
    """One outbox row per (subscriber, event) that the subscriber wants."""
    return [Queued(s.user, e.key, "open", e.measure.id) for e in events for s in subscribers if wants(s, e.measure)]


def reminders(saved: list[tuple[str, str, dt.date]], measures: dict[str, Measure], today: dt.date,
              reminder_days: int) -> list[Queued]:
    """Reminders due today for saved measures: `reminder_days` before one closes (or later, if the
    bot was not running that day, until it closes), and on the day one opens that was not yet open
    when saved (or later, while it stays open). The opening reminder has the key of the opening
    event itself, so a user who also follows the measure's area gets one message, not two."""
    out = []
    for user, measure_id, saved_on in saved:
        measure = measures.get(measure_id)
        if measure is None:
            continue
        opens, closes = measure.open_date, measure.close_date
        if closes is not None and 0 <= (closes - today).days <= reminder_days and (opens is None or opens <= today):
            out.append(Queued(user, f"closing:{measure_id}:{closes}", "closing", measure_id))
        if opens is not None and saved_on < opens <= today and is_available(status(measure, today)):
            out.append(Queued(user, open_key(measure_id, opens, closes), "opening", measure_id))
    return out


# --- hours -----------------------------------------------------------------------------------------

def _time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    """A daily span of local time when nothing is sent (it may cross midnight); empty: never quiet."""

    start: dt.time | None
    end: dt.time | None

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """'21:00-08:00' (or '' for none); the settings have checked the form."""
        if not text.strip():
            return cls(None, None)
        start, end = text.strip().split("-")
        return cls(_time(start), _time(end))

    def quiet(self, local: dt.datetime) -> bool:
        """True when `local` (a time in the right zone) falls in the quiet span."""
        if self.start is None or self.end is None or self.start == self.end:
            return False
        now = local.time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def ends(self, local: dt.datetime) -> dt.datetime:
        """When the quiet span containing `local` ends (`local` itself when not quiet)."""
        if not self.quiet(local):
            return local
        assert self.end is not None
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > local else end + dt.timedelta(days=1)


@dataclass(frozen=True)
class OfficeHours:
    """When staff answer: days of the week and a span of local time, e.g. 'mon-fri 09:00-17:00'."""

    first_day: int
    last_day: int
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        match = re.fullmatch(r"(\w{3})-(\w{3}) (\d\d:\d\d)-(\d\d:\d\d)", text.strip())
        if match is None:
            raise ValueError(f"office hours {text!r}: expected e.g. 'mon-fri 09:00-17:00'")
        return cls(DAYS.index(match[1]), DAYS.index(match[2]), _time(match[3]), _time(match[4]))

    def _working_day(self, day: dt.date) -> bool:
        wd = day.weekday()
        if self.first_day <= self.last_day:
            return self.first_day <= wd <= self.last_day
        return wd >= self.first_day or wd <= self.last_day

    def open(self, local: dt.datetime) -> bool:
        """True during office hours."""
        return self._working_day(local.date()) and self.start <= local.time() < self.end

    def next_opening(self, local: dt.datetime) -> dt.datetime:
        """The next time the office opens after `local` (`local` itself when open)."""
        if self.open(local):
            return local
        day = local.date()
        for _ in range(8):
            opening = dt.datetime.combine(day, self.start, local.tzinfo)
            if self._working_day(day) and opening > local:
                return opening
            day += dt.timedelta(days=1)
        raise ValueError("office hours never open")  # pragma: no cover - parse() allows no such span


def local_time(unix: float, zone: str) -> dt.datetime:
    """A unix time as an aware datetime in the time zone `zone`."""
    return dt.datetime.fromtimestamp(unix, ZoneInfo(zone))
