"""Enrichment of clean articles: language, named entities, dates mentioned, publication date."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from dateparser.date import DateDataParser
from prefect import task
from prefect.cache_policies import NONE
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from config.settings import EnrichSettings
from tasks.clean import normalized_blocks
from tasks.ner_workers import (  # noqa: F401 - the errors and components_not_needed_for_ner are used from here too
    EnrichmentWorkerError,
    ModelNotInstalled,
    NerWorkerPool,
    TextSpans,
    components_not_needed_for_ner,
    entity_spans,
    load_ner_pipeline,
    model_language,
    model_package,
)
from tasks.pubdate import FILE_MTIME, resolve_publication_date
from tasks.reconcile import DedupedBatch
from tasks.records import CleanArticle, DateMention, Enrichment, EntityCount, ExtractedArticle, ExtractedBatch, RunSummary
from tasks.source_state import DUPLICATE, WRITTEN, SourceState

NAME_GROUPS = {
    "PERSON": "persons",
    "ORG": "organizations",
    "GPE": "locations",
    "LOC": "locations",
    "FAC": "locations",
    "NORP": "other_entities",
    "EVENT": "other_entities",
    "WORK_OF_ART": "other_entities",
    "LAW": "other_entities",
    "PRODUCT": "other_entities",
    "LANGUAGE": "other_entities",
}
# When one name was tagged with several labels in an article, the most frequent wins; ties go
# to the label earlier here.
LABEL_PRIORITY = tuple(NAME_GROUPS)
ENTITY_LABELS = frozenset(NAME_GROUPS) | {"DATE"}  # what NER reports back: names, and dates to resolve
LANGUAGE_SAMPLE_CHARS = 1200  # enough for py3langid; its cost grows with the text
MIN_LANGUAGE_CONFIDENCE = 0.5  # py3langid's normalised probability
CHUNK_CHARS = 50_000  # texts sent to a worker at a time: about half a second of NER

# What NER reads: curly apostrophes as ASCII ones, no-break and thin spaces as spaces. Same-length
# replacements only, so that character offsets into the body stay valid. (NOTE: regexes, as
# str.translate with a dict table is ~8x slower on non-ASCII text.)
NER_APOSTROPHES = re.compile("[\u2019\u2018\u02bc]")
NER_SPACES = re.compile("[\u00a0\u2009\u202f]")
QUOTES_AND_PUNCTUATION = "\"'“”‘’«»„‚()[]{}<>,;:!?*–—-_/\\|#@ "
POSSESSIVE = re.compile(r"(?:'s|'S|')$")
LEADING_THE = re.compile(r"^(?:the|The|THE)\s+")
KEEPS_LEADING_THE = {"PERSON", "WORK_OF_ART", "PRODUCT"}
ACRONYM_LABELS = {"ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "LAW"}
PERSON_TITLES = re.compile(
    r"^(?:(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Professor|Sir|Dame|Lord|Lady|President|Vice President|"
    r"Prime Minister|Minister|Chancellor|Premier|Senator|Sen|Rep|Representative|Congressman|"
    r"Congresswoman|Governor|Gov|Mayor|Judge|Justice|Secretary|General|Gen|Colonel|Col|Captain|"
    r"Capt|Lieutenant|Lt|Sergeant|Sgt|Officer|Detective|Inspector|Chief|Coach|King|Queen|Prince|"
    r"Princess|Pope|Rev|Reverend|Father|Sister|Brother|Rabbi|Imam|Ayatollah|Sheikh|Comrade|"
    r"Chairman|Chairwoman|Ambassador|Commissioner)\.?\s+)+"
)
PRONOUNS = frozenset(
    "I Me My He Him His She Her Hers It Its They Them Their We Us Our You Your Who Whom Whose "
    "This That These Those Mine Yours Ours Theirs Himself Herself Itself Themselves".split()
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
MONTHS = {name: number for number, name in enumerate(MONTH_NAMES, 1)}
MONTHS.update({name[:3]: number for name, number in MONTHS.items()} | {"sept": 9})
# Weekday and month names are never names on their own; months that are also given names
# ("June", "May") are left to the model.
CALENDAR_WORDS = frozenset(WEEKDAYS) | (frozenset(MONTH_NAMES) - {"april", "may", "june", "august"})
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip


# --- the model holder ---------------------------------------------------------------


@dataclass
class ArticleReader:
    """What enrichment needs besides NER itself: the model's language, language identification, date resolution."""

    language: str  # ISO 639-1 language of the model
    language_identifier: LanguageIdentifier
    date_resolver: DateResolver

    @classmethod
    def for_model(cls, language: str, warm: bool = True) -> ArticleReader:
        """The tools for a model of this language; `warm`: pay dateparser's first-call cost now."""
        dates = DateResolver().warmed_up() if warm else DateResolver()
        return cls(language, LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True), dates)


@dataclass
class NerModel:
    """What enrichment needs loaded once: the spaCy pipeline, language and date tools, worker pool."""

    nlp: Any  # spacy.Language
    name: str  # the model package actually loaded
    language: str  # ISO 639-1 language of the model
    settings: EnrichSettings
    language_identifier: LanguageIdentifier
    date_resolver: DateResolver
    _pool: NerWorkerPool | None = field(default=None, repr=False)

    def pool(self, processes: int) -> NerWorkerPool:
        """A running pool of `processes` workers, started on first use and kept between calls."""
        if self._pool is not None and (self._pool.size != processes or not self._pool.healthy()):
            self._pool.close()
            self._pool = None
        if self._pool is None:
            self._pool = NerWorkerPool(replace(self.settings, model=self.name), processes, ENTITY_LABELS)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> NerModel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def load_ner_model(settings: EnrichSettings) -> NerModel:
    """Load settings.model (else settings.model_fallback) with only the components NER needs."""
    nlp, name = load_ner_pipeline(settings)
    reader = ArticleReader.for_model(nlp.lang)
    return NerModel(nlp, name, reader.language, settings, reader.language_identifier, reader.date_resolver)


# --- enrichment ---------------------------------------------------------------------


def enrich_articles(articles: Sequence[CleanArticle], model: NerModel, settings: EnrichSettings) -> list[Enrichment]:
    """Enrichment of each article, in order; NER runs batched, in worker processes if configured."""
    languages = [detect_language(article, model) for article in articles]
    wanted = [article for article, language in zip(articles, languages) if language == model.language]
    texts = list(dict.fromkeys(text for article in wanted for text, _ in ner_texts(article, settings.max_chars)))
    if settings.processes <= 1 or len(articles) < 2:
        spans = dict(zip(texts, entity_spans(model.nlp, texts, ENTITY_LABELS, settings.batch_size)))
    else:
        spans = _spans_from_pool(model.pool(settings.processes), texts)
    return [
        enrich_with_spans(article, language, spans, model, settings.max_chars)
        for article, language in zip(articles, languages, strict=True)
    ]


def _spans_from_pool(pool: NerWorkerPool, texts: list[str]) -> dict[str, TextSpans]:
    """Entity spans of the texts, found by the workers (one call: everything sent, then awaited)."""
    chunks = {pool.submit(chunk): chunk for chunk in text_chunks(texts)}
    spans: dict[str, TextSpans] = {}
    while chunks:
        for number, found in pool.results(wait=True):
            if number in chunks:  # else left over from a call that failed
                spans.update(zip(chunks.pop(number), found, strict=True))
    return spans


def text_chunks(texts: Iterable[str], chars: int = CHUNK_CHARS) -> Iterator[list[str]]:
    """The texts in consecutive chunks of about `chars` characters."""
    chunk: list[str] = []
    size = 0
    for text in texts:
        chunk.append(text)
        size += len(text)
        if size >= chars:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def enrich_with_spans(
    article: CleanArticle, language: str, spans: Mapping[str, TextSpans], reader: ArticleReader | NerModel, max_chars: int
) -> Enrichment:
    """An article's enrichment from the entity spans of its NER texts (see ner_texts)."""
    published_at, published_at_source = resolve_publication_date(article)
    enrichment = Enrichment(language, published_at=published_at, published_at_source=published_at_source)
    if language != reader.language:
        # Not read by a model of another language: no entities, and no dates, which come from NER.
        return replace(enrichment, ner_applied=False)
    names: list[tuple[str, str]] = []
    date_spans: list[tuple[str, int, int]] = []
    for text, offset in ner_texts(article, max_chars):
        for label, start, end in spans[text]:
            if label in NAME_GROUPS:
                names.append((label, text[start:end]))
            elif label == "DATE" and offset >= 0:
                date_spans.append((text[start:end], offset + start, offset + end))
    base = _relative_base(published_at, published_at_source)
    mentions = tuple(
        DateMention(article.body[start:end], resolved, start, end)
        for text, start, end in date_spans
        if (resolved := reader.date_resolver.resolve(text, base))
    )
    return _with_entities(replace(enrichment, dates_mentioned=mentions), names)


def ner_texts(article: CleanArticle, max_chars: int) -> Iterator[tuple[str, int]]:
    """(text, body offset) per title and paragraph, as NER reads them; the title's offset is -1.

    Each paragraph is its own text, so no entity spans two; NER reads at most `max_chars` of a body.
    """
    return texts_for_ner(article.title, article.body, max_chars)


def texts_for_ner(title: str, body: str, max_chars: int) -> Iterator[tuple[str, int]]:
    """ner_texts of a title and body."""
    if title.strip():
        yield ner_form(title), -1
    budget, offset = max_chars, 0
    for paragraph in body.split("\n\n"):
        if budget <= 0:
            break
        if paragraph.strip():
            yield ner_form(paragraph[:budget]), offset
            budget -= len(paragraph)
        offset += len(paragraph) + 2


def ner_form(text: str) -> str:
    """The text as NER reads it: same length, apostrophes and spaces made plain."""
    return text if text.isascii() else NER_SPACES.sub(" ", NER_APOSTROPHES.sub("'", text))


def _with_entities(enrichment: Enrichment, mentions: list[tuple[str, str]]) -> Enrichment:
    """The enrichment with its entity lists filled from (label, text) mentions."""
    entities = canonical_entities(mentions)
    groups: dict[str, list[str]] = defaultdict(list)
    for entity in entities:
        groups[NAME_GROUPS[entity.label]].append(entity.text)
    return replace(
        enrichment,
        persons=tuple(groups["persons"]),
        organizations=tuple(groups["organizations"]),
        locations=tuple(groups["locations"]),
        other_entities=tuple(groups["other_entities"]),
        entities=entities,
    )


# --- entity clean-up ----------------------------------------------------------------


def canonical_entities(mentions: Sequence[tuple[str, str]]) -> tuple[EntityCount, ...]:
    """One EntityCount per canonical name of an article, most mentioned first, then by name.

    A name keeps one label: the one most of its mentions had.
    """
    cleaned = [
        (label, name) for label, text in mentions if label in NAME_GROUPS and (name := clean_entity_text(text, label))
    ]
    aliases = _acronym_aliases(cleaned) | _organization_aliases(cleaned) | _person_aliases(cleaned)
    counts: Counter[str] = Counter()
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    for label, name in cleaned:
        canonical, seen = name, {name}
        while aliases.get(canonical, canonical) not in seen:  # "Bank" -> "Central Bank" -> "European Central Bank"
            canonical = aliases[canonical]
            seen.add(canonical)
        counts[canonical] += 1
        labels[canonical][label] += 1
    entities = [
        EntityCount(name, min(labels[name], key=lambda label: (-labels[name][label], LABEL_PRIORITY.index(label))), n)
        for name, n in counts.items()
    ]
    return tuple(sorted(entities, key=lambda entity: (-entity.count, entity.text)))


def clean_entity_text(text: str, label: str) -> str | None:
    """The entity's name without quotes, possessive, leading "the" or personal title; None if no name."""
    name = " ".join(ner_form(text).split()).strip(QUOTES_AND_PUNCTUATION)
    name = POSSESSIVE.sub("", name).strip(QUOTES_AND_PUNCTUATION)
    if label not in KEEPS_LEADING_THE:
        name = LEADING_THE.sub("", name)
    if label == "PERSON":
        name = PERSON_TITLES.sub("", name)
    if not _looks_like_name(name):
        return None
    return name


def _looks_like_name(name: str) -> bool:
    """False for pronouns, numbers, calendar words and lowercase phrases, which are never names."""
    return (
        1 < len(name) <= 100
        and any(char.isupper() for char in name)
        and any(char.isalpha() for char in name)
        and name not in PRONOUNS
        and name.lower().rstrip(".") not in CALENDAR_WORDS
    )


def _person_aliases(cleaned: list[tuple[str, str]]) -> dict[str, str]:
    """Single-word person names mapped to the article's fuller name ("Putin" -> "Vladimir Putin").

    The alias holds for every mention of the word, whatever its label ("Holloway's plan"
    tagged ORG), once the word was tagged PERSON somewhere in the article.
    """
    counts = Counter(name for label, name in cleaned if label == "PERSON")
    full_names = [name for name in counts if " " in name]
    aliases = {}
    for name in counts:
        if " " in name:
            continue
        # Surname last ("Vladimir Putin"), else family name first ("Kim Jong-un"); the most
        # mentioned full name wins when several share it.
        candidates = [full for full in full_names if full.rsplit(" ", 1)[-1] == name] or [
            full for full in full_names if full.split(" ", 1)[0] == name
        ]
        if candidates:
            aliases[name] = min(candidates, key=lambda full: (-counts[full], -len(full), full))
    return aliases


def _organization_aliases(cleaned: list[tuple[str, str]]) -> dict[str, str]:
    """Organisation names mapped to the fuller name they end, or the plainer name they start with.

    "Security Council" -> "UN Security Council", "Bank" -> "European Central Bank",
    "KCNA news agency" -> "KCNA". Acronyms are left to _acronym_aliases.
    """
    counts = Counter(name for label, name in cleaned if label == "ORG")
    aliases = {}
    for name in counts:
        if name.isupper():
            continue
        candidates = [longer for longer in counts if longer.endswith(" " + name)]
        if candidates:
            aliases[name] = min(candidates, key=lambda longer: (-counts[longer], longer))
            continue
        words = name.split(" ")
        while len(words) > 1 and words[-1].islower():
            words.pop()
        plainer = " ".join(words)
        if plainer != name and plainer in counts:
            aliases[name] = plainer
    return aliases


def _acronym_aliases(cleaned: list[tuple[str, str]]) -> dict[str, str]:
    """Acronyms mapped to the name with the same label they abbreviate ("IMF" -> "International Monetary Fund")."""
    counts = Counter((label, name) for label, name in cleaned if label in ACRONYM_LABELS)
    by_initials: dict[tuple[str, str], list[str]] = defaultdict(list)
    for label, name in counts:
        words = [word for word in re.split(r"[\s-]+", name) if word[:1].isupper()]
        if len(words) >= 2 and " " in name:
            by_initials[(label, "".join(word[0] for word in words))].append(name)
    aliases = {}
    for label, name in counts:
        acronym = name.replace(".", "")
        candidates = by_initials.get((label, acronym))
        if candidates and 2 <= len(acronym) <= 6 and acronym.isalpha() and acronym.isupper():
            aliases[name] = min(candidates, key=lambda full: (-counts[(label, full)], full))
    return aliases


# --- language and publication date ------------------------------------------------------


def detect_language(article: CleanArticle, model: ArticleReader | NerModel) -> str:
    """ISO 639-1 language of the article's text.

    When py3langid is unsure (short or empty text), the language the input declared, else the model's.
    """
    sample = f"{article.title}\n{article.body[:LANGUAGE_SAMPLE_CHARS]}"
    language, confidence = model.language_identifier.classify(sample)
    if confidence >= MIN_LANGUAGE_CONFIDENCE:
        return language
    declared = (article.language or "").replace("_", "-").split("-")[0].lower()
    return declared or model.language


def _relative_base(published_at: str | None, source: str | None) -> date | None:
    """The day relative mentions count from: the publication day the article states, else none.

    A file's mtime says when the file was copied, not when "yesterday" was, so relative
    mentions stay unresolved for articles dated only by it.
    """
    if not published_at or source == FILE_MTIME:
        return None
    try:
        return date.fromisoformat(published_at[:10])
    except ValueError:
        return None


# --- dates mentioned ----------------------------------------------------------------

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

    def resolve(self, text: str, base: date | None) -> str | None:
        """ISO date the mention resolves to (relative ones against `base`), or None when vague."""
        phrase = _date_phrase(text)
        if not phrase or VAGUE.search(phrase) or (VAGUE_UNITS.search(phrase) and not phrase.endswith(" ago")):
            return None
        if _is_relative(phrase):
            return _resolve_relative(phrase, base).isoformat() if base else None
        return self._resolve_absolute(phrase, base)

    def _resolve_absolute(self, phrase: str, base: date | None) -> str | None:
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
        return day.isoformat() if day else None

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


def _resolve_relative(phrase: str, base: date) -> date:
    """The first day of what a relative phrase names, counted from `base`."""
    if phrase in DAYS_FROM_PUBLICATION:
        return base + timedelta(days=DAYS_FROM_PUBLICATION[phrase])
    if match := WEEKDAY.match(phrase):
        return _weekday_near(base, WEEKDAYS.index(match["weekday"]), match["which"])
    if match := PERIOD.match(phrase):
        return _period_start(base, match["unit"], {"last": -1, "next": 1}.get(match["which"], 0))
    match = AGO.match(phrase)
    number = int(match["number"]) if match["number"].isdigit() else NUMBER_WORDS[match["number"]]
    if match["unit"] in ("day", "week"):
        return base - timedelta(days=number * (7 if match["unit"] == "week" else 1))
    return _period_start(base, match["unit"], -number)


def _weekday_near(base: date, weekday: int, which: str | None) -> date:
    """A bare weekday in news is the latest one on or before publication; "next" the first after it."""
    if which in ("next", "this coming", "coming"):
        return base + timedelta(days=(weekday - base.weekday() - 1) % 7 + 1)
    if which in ("last", "this past", "past"):
        return base - timedelta(days=(base.weekday() - weekday - 1) % 7 + 1)
    if which == "this":
        return base + timedelta(days=weekday - base.weekday())
    return base - timedelta(days=(base.weekday() - weekday) % 7)


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




# --- the enrichment step of a batch -------------------------------------------------


class NerSession:
    """A run's NER, started on first use (a run with nothing new to enrich starts nothing).

    With settings.processes > 1, worker processes find the entities and `start` queues a batch's
    texts as soon as it is extracted: NER of a batch runs while the batch before it is cleaned,
    deduplicated and indexed here. Spans are kept by text for the latest two batches, so a text
    seen again (a copied file, a paragraph shared by near-duplicates) goes through NER once.
    Otherwise the model is loaded here and `enrich` runs NER on what it needs.
    """

    def __init__(self, settings: EnrichSettings) -> None:
        self.settings = settings
        self._model: NerModel | None = None
        self._reader: ArticleReader | None = None
        self._pool: NerWorkerPool | None = None
        self._spans: dict[str, TextSpans] = {}
        self._chunks: dict[int, list[str]] = {}  # chunk number -> its texts, queued in the workers
        self._outbox: list[str] = []  # texts of the next chunk
        self._outbox_chars = 0
        self._queued: set[str] = set()
        self._used: dict[str, int] = {}  # text -> the latest call (start or enrich) that asked for it
        self._batch = 0  # calls of start and enrich so far
        self._files_queued: set[int] = set()  # sha256 (first 64 bits) of the files whose texts were queued
        self._languages: dict[tuple[str, str, str | None], tuple[str, int]] = {}  # language sample -> (language, batch)

    @property
    def in_workers(self) -> bool:
        return self.settings.processes > 1

    def model(self) -> NerModel:
        if self._model is None:
            self._model = load_ner_model(self.settings)
        return self._model

    def reader(self) -> ArticleReader | NerModel:
        """Language identification and date resolution (in worker mode without loading spaCy here)."""
        if not self.in_workers:
            return self.model()
        if self._reader is None:
            self._reader = ArticleReader.for_model(model_language(model_package(self.settings)), warm=False)
        return self._reader

    def start(self, extracted: ExtractedBatch, known: Mapping[str, SourceState]) -> int:
        """Queue the NER texts of a batch's articles in the workers; how many texts went out.

        Articles of files read before with the same bytes (their articles are stored) and of
        files already queued (copies) are left out, as are articles not in the model's language.
        Whatever cleaning keeps of the rest is among the texts queued.
        """
        if not self.in_workers:
            return 0
        self._batch += 1
        articles = [
            article
            for article in extracted.articles
            if (read := extracted.read.get(article.source.path)) is None
            or not (_short_hash(read.sha256) in self._files_queued or _stored_before(known.get(read.source.path), read.sha256))
        ]
        self._files_queued.update(_short_hash(read.sha256) for read in extracted.read.values())
        if not articles:
            return 0
        self._start_pool()  # the workers load the model meanwhile
        reader = self.reader()
        queued = 0
        for article in articles:
            draft = _draft(article)
            if self._language(draft, reader) == reader.language:
                queued += self._queue(text for text, _ in ner_texts(draft, self.settings.max_chars))
        self._send()
        return queued

    def enrich(self, articles: Sequence[CleanArticle]) -> list[Enrichment]:
        """Enrichment of each article, in order, from the spans queued by `start` (the rest found now)."""
        self._batch += 1
        reader = self.reader()
        languages = [self._language(article, reader) for article in articles]
        texts = [
            text
            for article, language in zip(articles, languages)
            if language == reader.language
            for text, _ in ner_texts(article, self.settings.max_chars)
        ]
        if self.in_workers:
            self._queue(texts)  # only what `start` did not foresee
            self._send()
            while any(text in self._queued for text in texts):
                self._receive(wait=True)
        else:
            self._find_here(texts)
        enrichments = [
            enrich_with_spans(article, language, self._spans, reader, self.settings.max_chars)
            for article, language in zip(articles, languages, strict=True)
        ]
        self._forget_older_batches()
        return enrichments

    def _language(self, article: CleanArticle, reader: ArticleReader | NerModel) -> str:
        """detect_language, once per text (an article's draft and its cleaned form are often the same)."""
        key = (article.title, article.body[:LANGUAGE_SAMPLE_CHARS], article.language)
        if key not in self._languages:
            self._languages[key] = (detect_language(article, reader), self._batch)
        language, _ = self._languages[key]
        self._languages[key] = (language, self._batch)
        return language

    def _start_pool(self) -> None:
        if self._pool is None:
            self._pool = NerWorkerPool(self.settings, self.settings.processes, ENTITY_LABELS)

    def _queue(self, texts: Iterable[str]) -> int:
        """Send the texts neither found nor queued yet to the workers, a chunk as soon as one is full; how many."""
        count = 0
        for text in texts:
            self._used[text] = max(self._used.get(text, 0), self._batch)
            if text in self._spans or text in self._queued:
                continue
            self._queued.add(text)
            self._outbox.append(text)
            self._outbox_chars += len(text)
            count += 1
            if self._outbox_chars >= CHUNK_CHARS:
                self._send()
        return count

    def _send(self) -> None:
        """Submit the texts in the outbox as one chunk."""
        if not self._outbox:
            return
        self._start_pool()
        assert self._pool is not None
        self._chunks[self._pool.submit(self._outbox)] = self._outbox
        self._outbox, self._outbox_chars = [], 0
        self._receive(wait=False)

    def _receive(self, wait: bool) -> None:
        assert self._pool is not None
        for number, found in self._pool.results(wait):
            for text, spans in zip(self._chunks.pop(number), found, strict=True):
                self._spans[text] = spans
                self._queued.discard(text)

    def _find_here(self, texts: list[str]) -> None:
        """Spans of the texts not known yet, from the model in this process."""
        for text in texts:
            self._used[text] = self._batch
        new = [text for text in dict.fromkeys(texts) if text not in self._spans]
        nlp = self.model().nlp
        self._spans.update(zip(new, entity_spans(nlp, new, ENTITY_LABELS, self.settings.batch_size)))

    def _forget_older_batches(self) -> None:
        """Keep the spans of the latest two calls (the batch enriched, the one started after it).

        Memory follows the batch size, not the corpus.
        """
        oldest = self._batch - 1
        for text in [text for text, batch in self._used.items() if batch < oldest and text not in self._queued]:
            del self._used[text]
            self._spans.pop(text, None)
        for key in [key for key, (_, batch) in self._languages.items() if batch < oldest]:
            del self._languages[key]

    def __enter__(self) -> NerSession:
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._model is not None:
            self._model.close()


def _short_hash(sha256: str) -> int:
    """The first 64 bits of a file's hash: a set of ints is a third the size of one of hex strings."""
    return int(sha256[:16], 16)


def _stored_before(state: SourceState | None, sha256: str) -> bool:
    """Whether the last run read these very bytes at this path and stored (or found) their articles."""
    return state is not None and state.sha256 == sha256 and state.status in (WRITTEN, DUPLICATE)


def _draft(article: ExtractedArticle) -> CleanArticle:
    """The article as cleaning starts from it, before any block is removed: what NER may have to read."""
    title, blocks = normalized_blocks(article)
    return CleanArticle(id="", title=title, body="\n\n".join(blocks), source=article.source, group=article.group, language=article.language)


@task(name="start-ner", cache_policy=NONE)
def start_ner_task(extracted: ExtractedBatch, known: Mapping[str, SourceState], ner: NerSession, summary: RunSummary) -> int:
    """Start NER of a batch's texts in the worker processes, before the batch is cleaned."""
    with summary.timed("enrich"):
        queued = ner.start(extracted, known)
    return queued


@dataclass(frozen=True)
class EnrichedBatch:
    """A batch after enrichment: entities, dates and language of each new article."""

    deduped: DedupedBatch
    enrichments: dict[str, Enrichment]


def enrich_batch(deduped: DedupedBatch, ner: NerSession, settings: EnrichSettings) -> EnrichedBatch:
    """Enrich only the new articles: duplicates cost no NER time."""
    articles = [group.representative for group in deduped.plan.new_groups]
    enrichments = ner.enrich(articles) if articles else []
    return EnrichedBatch(deduped, {article.id: e for article, e in zip(articles, enrichments, strict=True)})


@task(name="enrich", cache_policy=NONE)
def enrich_batch_task(deduped: DedupedBatch, ner: NerSession, settings: EnrichSettings, summary: RunSummary) -> EnrichedBatch:
    """Named entities, publication date, dates mentioned and language of a batch's new articles."""
    with summary.timed("enrich"):
        enriched = enrich_batch(deduped, ner, settings)
    return enriched
