"""Entity clean-up: NER's mentions of an article to its canonical names (quotes, titles, aliases resolved)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from newsetl.tasks.dates import MONTH_NAMES, WEEKDAYS
from newsetl.tasks.records import EntityCount
from newsetl.tasks.text import ner_form

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
# Weekday and month names are never names on their own; months that are also given names
# ("June", "May") are left to the model.
CALENDAR_WORDS = frozenset(WEEKDAYS) | (frozenset(MONTH_NAMES) - {"april", "may", "june", "august"})


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
