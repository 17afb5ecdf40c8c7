"""Dates: datelines and metadata values to ISO form, dates mentioned in text resolved to days, plausibility.

One month table serves datelines (English, German, French, Spanish) and mentions found by NER.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dateparser.date import DateDataParser

from newsetl.tasks.text import ner_form

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# One month table: English names and their abbreviations, and the foreign names below.
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
MONTHS.update({name[:3]: number for name, number in MONTHS.items()} | {"sept": 9})
MONTHS.update({
    # German, French and Spanish month names that differ from the English ones (datelines).
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10,
    "dezember": 12, "janvier": 1, "février": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7,
    "août": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "enero": 1,
    "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
})  # fmt: skip
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip


# --- datelines and metadata values ---------------------------------------------------------

MAX_DATELINE_CHARS = 80
_DATELINE_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DATELINE_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|urday|sday)?\.?,?\s+)"
UTC_ZONES = frozenset({"utc", "gmt", "z"})
UPDATE_LABELS = (
    "updated",
    "last updated",
    "first updated",
    "modified",
    "last modified",
    "aktualisiert",
    "mis à jour",
    "actualizado",
)
DATELINE = re.compile(
    rf"""^\s*
    (?:(?P<label>(?:first\s+|last\s+)?(?:published|updated|posted|modified)|date|dated
        |veröffentlicht|aktualisiert|publié|mis\s+à\s+jour|publicado|actualizado)
        (?:\s+on|\s+am|\s+le|\s+el)?\s*[:\-–—]?\s*)?
    {_DATELINE_WEEKDAY}?
    (?:
        (?P<day1>\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?P<month1>{_DATELINE_MONTH})\s*,?\s+(?:de\s+)?(?P<year1>\d{{4}})
      | (?P<month2>{_DATELINE_MONTH})\s+(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(?P<year2>\d{{4}})
      | (?P<year3>\d{{4}})-(?P<month3>\d{{2}})-(?P<day3>\d{{2}})
    )
    (?:
        (?:\s*[,|•·\-–—]\s*|\s+at\s+|\s+|T)
        (?P<hour>\d{{1,2}})[:.](?P<minute>\d{{2}})(?::(?P<second>\d{{2}})(?:\.\d+)?)?
        \s*(?P<ampm>[ap]\.?m\.?)?
        \s*(?P<zone>Z|UTC|GMT|BST|CET|CEST|EET|EEST|[ECMP][SD]T|ET|PT|IST|JST|AEST|AEDT|[+-]\d{{2}}:?\d{{2}})?
    )?
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_dateline(line: str) -> tuple[str, str] | None:
    """(label, ISO date or datetime) of a line that is only a date, e.g. "Published 9 October 2018"."""
    if len(line) > MAX_DATELINE_CHARS:
        return None
    match = DATELINE.match(line)
    if not match:
        return None
    groups = match.groupdict()
    year = groups["year1"] or groups["year2"] or groups["year3"]
    month_text = groups["month1"] or groups["month2"] or groups["month3"]
    day = groups["day1"] or groups["day2"] or groups["day3"]
    month = int(month_text) if month_text.isdigit() else MONTHS[month_text.lower().rstrip(".")]
    try:
        day_value = date(int(year), month, int(day))
    except ValueError:
        return None
    if not plausible_day(day_value):
        return None
    label = " ".join((groups["label"] or "").lower().split())
    return label, _with_time(day_value, groups)


def _with_time(day_value: date, groups: dict[str, str | None]) -> str:
    if groups["hour"] is None:
        return day_value.isoformat()
    hour, minute, second = int(groups["hour"]), int(groups["minute"]), int(groups["second"] or 0)
    ampm = (groups["ampm"] or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    zone = (groups["zone"] or "").lower()
    if hour > 23 or minute > 59 or second > 59:
        return day_value.isoformat()
    clock = f"{day_value.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}"
    if not zone:
        return clock
    if zone in UTC_ZONES:
        return clock + "Z"
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        return f"{clock}{zone[0]}{digits[:2]}:{digits[2:]}"
    return day_value.isoformat()  # a named local zone: the day is sure, the instant is not


def normalize_date(value: Any) -> str | None:
    """ISO date or datetime of a metadata value, or None when it is no plausible publication date.

    Read: ISO strings, RFC 2822, a dateline, eight digits as YYYYMMDD (`20230105`, also as a
    number: it is no epoch second of 1970), other numbers as epoch seconds or milliseconds.
    """
    found = _metadata_date(value)
    return found if found and plausible_day(date.fromisoformat(found[:10])) else None


def _metadata_date(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) and COMPACT_DAY.match(str(value)):
        return compact_day(str(value))
    if isinstance(value, (int, float)):
        if value <= 0:  # an epoch zero (or before): a placeholder
            return None
        seconds = value / 1000 if value > 1e11 else value
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if COMPACT_DAY.match(text):
        return compact_day(text)
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z").replace(" ", "T", 1))
        except ValueError:
            try:
                return date.fromisoformat(text[:10]).isoformat()
            except ValueError:
                return None
        if len(text) == 10:
            return moment.date().isoformat()
        if moment.utcoffset() == timedelta(0):
            return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
        return moment.isoformat(timespec="seconds")
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is not None:
        if moment.utcoffset() == timedelta(0):
            return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
        return moment.isoformat(timespec="seconds")
    parsed = parse_dateline(text)
    return parsed[1] if parsed else None


def compact_day(digits: str) -> str | None:
    """The ISO day of an eight-digit YYYYMMDD value, or None when it is no calendar day."""
    match = COMPACT_DAY.match(digits)
    return calendar_day(match[1], match[2], match[3]) if match else None


def calendar_day(year: str, month: str, day: str) -> str | None:
    """The ISO day of year, month and day digits, or None when they name no calendar day."""
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


# --- the one stored form of a publication date ----------------------------------------------

# Whatever its source (HTML metadata, JSON, a dateline, a file's mtime), a publication date
# outside this window is a placeholder (0001-01-01, 9999-12-31, an epoch zero), never a date.
EARLIEST_PLAUSIBLE = date(1900, 1, 1)
DATETIME, DAY = "datetime", "day"  # published_at_precision: an instant, or only its day
COMPACT_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
ISO_DAY_START = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def plausible_day(day: date, now: datetime | None = None) -> bool:
    """Whether a day can be a publication date: from 1900 to one day after `now` (default: this moment)."""
    latest = (now or datetime.now(UTC)).astimezone(UTC).date() + timedelta(days=1)
    return EARLIEST_PLAUSIBLE <= day <= latest


def canonical_date(value: str | None, now: datetime | None = None) -> tuple[str, str] | None:
    """(value, precision) in the one stored form, or None when it is no plausible date.

    A time with its zone (an instant) becomes a UTC datetime "YYYY-MM-DDTHH:MM:SSZ" (precision
    "datetime"); a date, or a time without a zone (a local clock time, no instant), its day ("day").
    """
    if not value:
        return None
    text = value.strip()
    match = ISO_DAY_START.match(text)
    if not match:
        return None
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    if not plausible_day(day, now):
        return None
    if len(text) == 10:
        return day.isoformat(), DAY
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return day.isoformat(), DAY
    if moment.utcoffset() is None:
        return day.isoformat(), DAY
    instant = moment.astimezone(UTC)
    if not plausible_day(instant.date(), now):
        return None
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ"), DATETIME


# --- ISO values and plausibility ----------------------------------------------------------

EARLIEST_YEAR = 1995  # htmldate's default earliest date too: older values on web pages are placeholders
ISO_PREFIX = re.compile(
    r"^\s*(\d{4})[-/](\d{2})[-/](\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?)?"
)


def normalise_iso(value: str | None) -> str | None:
    """`YYYY-MM-DD` or an ISO datetime from a value that starts with an ISO date, else None."""
    if not value:
        return None
    match = ISO_PREFIX.match(value)
    if not match:
        return None
    year, month, day, clock, zone = match.groups()
    try:
        day_only = date(int(year), int(month), int(day))
    except ValueError:
        return None
    if not clock:
        return day_only.isoformat()
    zone = "+00:00" if zone == "Z" else (zone[:3] + ":" + zone[-2:] if zone else "")
    try:
        return datetime.fromisoformat(f"{day_only.isoformat()}T{clock}{zone}").isoformat()
    except ValueError:
        return day_only.isoformat()


def plausible(value: str, latest: datetime) -> bool:
    """Not before the news web and not after tomorrow."""
    return EARLIEST_YEAR <= int(value[:4]) and value[:10] <= latest.date().isoformat()


# --- dates mentioned ----------------------------------------------------------------------

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>1[0-9]\d\d|20\d\d|21\d\d)"
_WEEKDAY_PREFIX = r"(?:(?:" + "|".join(WEEKDAYS) + r"),?\s+)?"
# (pattern, granularity) of the calendar forms read without dateparser.
ABSOLUTE_FORMS = (
    (re.compile(rf"^{_WEEKDAY_PREFIX}{_DAY}\s+(?:of\s+)?{_MONTH},?(?:\s+{_YEAR})?$"), "day"),
    (re.compile(rf"^{_WEEKDAY_PREFIX}{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?$"), "day"),
    (re.compile(r"^(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)$"), "day"),
    (re.compile(rf"^{_MONTH},?\s+(?:of\s+)?{_YEAR}$"), "month"),
    (re.compile(rf"^{_MONTH}$"), "month"),
    (re.compile(rf"^(?:the\s+year\s+)?{_YEAR}$"), "year"),
)
NUMERIC_DATE = re.compile(r"\d{1,4}[/.]\d{1,2}[/.]\d{1,4}")
FOUR_DIGITS = re.compile(r"\b\d{4}\b")
DAYS_FROM_PUBLICATION = {
    "today": 0, "tonight": 0, "this": 0, "yesterday": -1, "tomorrow": 1,
    "day before yesterday": -2, "day after tomorrow": 2,
}  # fmt: skip
WEEKDAY = re.compile(
    rf"^(?P<which>last|this|next|this past|this coming|coming|past)?\s*(?P<weekday>{'|'.join(WEEKDAYS)})$"
)
PERIOD = re.compile(r"^(?P<which>last|this|next|the current|current)\s+(?P<unit>week|month|year)$")
AGO = re.compile(rf"^(?P<number>\d+|{'|'.join(NUMBER_WORDS)})\s+(?P<unit>day|week|month|year)s?\s+ago$")
# Durations, periods without an anchor and seasons name no day: "75 years", "the next 100 years",
# "decades", "recent weeks", "30-day", "the 1990s", "summer".
VAGUE = re.compile(
    r"\b(?:decades?|centur(?:y|ies)|millenni(?:um|a)|\d+s|'\d0s|recent|recently|few|several|many|"
    r"annual|annually|daily|weekly|monthly|quarterly|yearly|every|each|per|seasons?|spring|summer|"
    r"autumn|fall|winter|weekends?|quarter|fiscal|times?|hours?|minutes?|seconds?|"
    r"\d+-(?:day|week|month|year|hour)|same|between|through|until|till|and|to)\b"
    r"|\b\d{4}\s*[-–/]\s*\d{2}(?:\d{2})?(?![\d-])"
)
VAGUE_UNITS = re.compile(r"\b(?:days|weeks|months|years|nights)\b|^(?:a|an|one|the)\s+(?:day|week|month|year|night)$")
PREFIXES = re.compile(
    r"^(?:mid-|(?:on|in|by|since|before|after|around|about|as of|as early as|at|during|of|the|"
    r"early|earlier|late|later|mid|the end of|end of|the beginning of|beginning of|"
    r"the start of|start of|the middle of|middle of)\s+)"
)
SUFFIXES = re.compile(r"(?:'s|\s+(?:morning|afternoon|evening|night|overnight))$")


def _english_date_parser() -> DateDataParser:
    return DateDataParser(languages=["en"], settings={"PREFER_DAY_OF_MONTH": "first", "RETURN_TIME_AS_PERIOD": True})


@dataclass
class DateResolver:
    """Turns the text of DATE spans into ISO dates; dateparser only for forms not handled here.

    A mention resolves to the first day of the period it names: "next year" -> 1 January of
    that year, "last month" -> its first day, "last week" -> its Monday.
    """

    parser: DateDataParser = field(default_factory=_english_date_parser)
    max_cache: int = 20_000
    _cache: dict[str, tuple[date, str, bool] | None] = field(default_factory=dict, repr=False)

    def warmed_up(self) -> DateResolver:
        """The resolver after one dateparser call (its first call builds regexes for ~0.3 s)."""
        self.parser.get_date_data("1 January 2000")
        return self

    def resolve(self, text: str, base: date | None, tense: str | None = None) -> str | None:
        """ISO date the mention resolves to (relative ones against `base`), or None when vague."""
        resolved = self.resolve_mention(text, base, tense)
        return resolved[0] if resolved else None

    def resolve_mention(self, text: str, base: date | None, tense: str | None = None) -> tuple[str, str] | None:
        """(first day, granularity) of what the mention names, or None when vague.

        Granularity is "day", "week", "month" or "year": "later this year" is the year, not its
        1 January. `tense` ("future" or "past", see `clause_tense`) places a bare weekday:
        "Tuesday's debate" in a Monday story is the coming Tuesday when the clause is future.
        """
        phrase = _date_phrase(text)
        if not phrase or VAGUE.search(phrase) or (VAGUE_UNITS.search(phrase) and not phrase.endswith(" ago")):
            return None
        if _is_relative(phrase):
            if base is None:
                return None
            day, granularity = _resolve_relative(phrase, base, tense)
            return day.isoformat(), granularity
        return self._resolve_absolute(phrase, base)

    def _resolve_absolute(self, phrase: str, base: date | None) -> tuple[str, str] | None:
        """A calendar date named by the phrase; a missing year is the one that puts it nearest `base`."""
        if phrase not in self._cache:
            if len(self._cache) >= self.max_cache:
                self._cache.clear()
            self._cache[phrase] = _parse_absolute(phrase) or self._parse_with_dateparser(phrase)
        parsed = self._cache[phrase]
        if parsed is None:
            return None
        day, granularity, has_year = parsed
        if not has_year:
            if base is None:
                return None
            day = _nearest_year(day, base, granularity)
        return (day.isoformat(), granularity) if day else None

    def _parse_with_dateparser(self, phrase: str) -> tuple[date, str, bool] | None:
        """dateparser's reading of an absolute phrase that names a month or a numeric date."""
        if not (any(word in MONTHS for word in re.split(r"[\s,.]+", phrase)) or NUMERIC_DATE.search(phrase)):
            return None
        try:
            data = self.parser.get_date_data(phrase)
        except (ValueError, TypeError, OverflowError):  # arbitrary text: a failure is an unresolved mention
            return None
        if data.date_obj is None or data.period not in ("day", "month", "year"):
            return None
        day = data.date_obj.date()
        day = day.replace(day=1) if data.period != "day" else day
        day = day.replace(month=1) if data.period == "year" else day
        return day, data.period, bool(FOUR_DIGITS.search(phrase))


def _date_phrase(text: str) -> str:
    """The mention lowercased, without prepositions and time-of-day words around it."""
    phrase = " ".join(ner_form(text).lower().split()).strip(" .,;:!?\"'()")
    previous = None
    while phrase != previous:
        previous = phrase
        phrase = SUFFIXES.sub("", PREFIXES.sub("", phrase)).strip(" .,")
    return phrase


def _is_relative(phrase: str) -> bool:
    """Whether the phrase counts from the day of publication ("yesterday", "last month", "Wednesday")."""
    return bool(phrase in DAYS_FROM_PUBLICATION or WEEKDAY.match(phrase) or PERIOD.match(phrase) or AGO.match(phrase))


def _resolve_relative(phrase: str, base: date, tense: str | None = None) -> tuple[date, str]:
    """The first day of what a relative phrase names, counted from `base`, and its granularity."""
    if phrase in DAYS_FROM_PUBLICATION:
        return base + timedelta(days=DAYS_FROM_PUBLICATION[phrase]), "day"
    if match := WEEKDAY.match(phrase):
        return _weekday_near(base, WEEKDAYS.index(match["weekday"]), match["which"], tense), "day"
    if match := PERIOD.match(phrase):
        step = {"last": -1, "next": 1}.get(match["which"], 0)
        return _period_start(base, match["unit"], step), match["unit"]
    match = AGO.match(phrase)
    number = int(match["number"]) if match["number"].isdigit() else NUMBER_WORDS[match["number"]]
    if match["unit"] in ("day", "week"):
        return base - timedelta(days=number * (7 if match["unit"] == "week" else 1)), "day"
    return _period_start(base, match["unit"], -number), match["unit"]


def _weekday_near(base: date, weekday: int, which: str | None, tense: str | None = None) -> date:
    """A bare weekday in news is the latest one on or before publication, unless the clause is future.

    "next"/"coming" (or a bare weekday in a future clause) is the first one after publication
    (the same day for a future clause naming the day of publication).
    """
    if which in ("next", "this coming", "coming"):
        return base + timedelta(days=(weekday - base.weekday() - 1) % 7 + 1)
    if which in ("last", "this past", "past"):
        return base - timedelta(days=(base.weekday() - weekday - 1) % 7 + 1)
    if which == "this":
        return base + timedelta(days=weekday - base.weekday())
    if tense == "future":
        return base + timedelta(days=(weekday - base.weekday()) % 7)
    return base - timedelta(days=(base.weekday() - weekday) % 7)


# The tense of the clause around a bare weekday: the tense marker nearest the mention wins.
FUTURE_MARKERS = re.compile(
    r"\b(?:will|won't|shall|'ll|going to|(?:is|are|was|were) (?:set|due|scheduled|expected|slated|poised) to|"
    r"(?:scheduled|planned|slated|set) for|(?:is|are) to|plans? to|intends? to|upcoming|ahead of|coming)\b",
    re.IGNORECASE,
)
PAST_MARKERS = re.compile(
    r"\b(?:said|says|told|was|were|had|did|held|met|took|came|went|gave|made|won|lost|left|began|saw|"
    r"announced|reported|ago|last|earlier|(?!(?:scheduled|expected|planned)\b)[a-z]{3,}ed)\b",
    re.IGNORECASE,
)
SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|\n")


def clause_tense(text: str, start: int, end: int) -> str | None:
    """ "future" or "past" by the tense marker nearest the span text[start:end] in its sentence, else None."""
    left = max((match.end() for match in SENTENCE_BREAK.finditer(text, 0, start)), default=0)
    following = SENTENCE_BREAK.search(text, end)
    right = following.start() if following else len(text)
    best: tuple[int, str] | None = None
    for pattern, tense in ((FUTURE_MARKERS, "future"), (PAST_MARKERS, "past")):
        for match in pattern.finditer(text, left, right):
            if match.end() > start and match.start() < end:
                continue  # inside the mention itself ("last Tuesday")
            distance = start - match.end() if match.end() <= start else match.start() - end
            if best is None or distance < best[0]:
                best = (distance, tense)
    return best[1] if best else None


def _period_start(base: date, unit: str, step: int) -> date:
    """First day of the week/month/year `step` periods from the one holding `base`."""
    if unit == "week":
        return base - timedelta(days=base.weekday()) + timedelta(weeks=step)
    if unit == "month":
        months = base.year * 12 + base.month - 1 + step
        return date(months // 12, months % 12 + 1, 1)
    return date(base.year + step, 1, 1)


def _parse_absolute(phrase: str) -> tuple[date, str, bool] | None:
    """(day, granularity, whether the phrase gave the year) for the common calendar forms."""
    for pattern, granularity in ABSOLUTE_FORMS:
        if match := pattern.match(phrase):
            parts = match.groupdict()
            month_text = parts.get("month") or "1"
            month = MONTHS.get(month_text) or int(month_text)
            year = int(parts["year"]) if parts.get("year") else 2000  # a leap year: keeps 29 February
            try:
                return date(year, month, int(parts.get("day") or 1)), granularity, bool(parts.get("year"))
            except ValueError:
                return None
    return None


def _nearest_year(day: date, base: date, granularity: str) -> date | None:
    """The day (or month) in base's year, the one before or the one after: whichever is nearest."""
    options = []
    for year in (base.year - 1, base.year, base.year + 1):
        try:
            options.append(day.replace(year=year))
        except ValueError:  # 29 February
            continue
    if granularity == "month":
        return min(options, key=lambda option: abs((option.replace(day=15) - base).days), default=None)
    return min(options, key=lambda option: abs((option - base).days), default=None)
