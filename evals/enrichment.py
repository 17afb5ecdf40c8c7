"""Enrichment figures: seed entities, publication dates, GUM entity P/R (k-fold), a French article, the top
entities of trafilatura's evaluation pages, relative dates, NER throughput."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from evals.entity_cases import CASES, score_cases
from evals.extraction import part_of
from newsetl.config.settings import EnrichSettings, load_settings
from newsetl.tasks.enrichment import ner_texts
from newsetl.tasks.entities import (
    ALL_RULES,
    ENTITY_LABELS,
    NAME_GROUPS,
    CleanupRules,
    EntityKnowledge,
    Mention,
    canonical_entities,
    load_knowledge,
    mentions_in,
)
from newsetl.tasks.ner import NerSession, enrich_articles, load_ner_model
from newsetl.tasks.ner_models import entity_spans, load_models, load_ner_pipeline
from newsetl.tasks.pubdate import publication_date_from_html
from newsetl.tasks.records import CleanArticle, Enrichment, ExtractedArticle, SourceRef

CORPORA = Path(os.environ.get("NEWSETL_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
SEED_FILE = CORPORA / "seed" / "000_5e6e1551d8ebd9d7.txt"
HTMLDATE_EVAL = CORPORA / "htmldate-eval"
GUM_CONLLU = CORPORA / "gum-news-ner" / "conllu"
TRAFILATURA_EVAL = CORPORA / "trafilatura-eval"
GUM_FOLDS = 2
TOP_ENTITIES = 30
# A French article of our own: language, persons and places.
FRENCH_ARTICLE = (
    "Emmanuel Macron reçoit les maires à Paris",
    "Le président Emmanuel Macron a reçu mardi à Paris plusieurs centaines de maires venus de toute la France.\n\n"
    "Macron a promis de nouveaux crédits pour les communes rurales. "
    "Les maires se retrouveront en novembre à Marseille.",
)
FRENCH_EXPECTED = {"persons": ["Emmanuel Macron"], "locations": ["Paris", "Marseille"]}
BENCH_TEXTS = CORPORA / "scrapinghub-article-extraction-benchmark" / "ground-truth.json"

# The seed's advertisement block, as lines (the clean step removes it from real input).
SEED_AD_LINES = re.compile(r"^(Amazon Prime logo|Access unlimited streaming .*|Sign up now for a .*|Sign up)$")
SEED_EXPECTED = {
    "persons": ["Vladimir Putin", "Kim Jong-un", "Kim Young-ho", "Matthew Miller", "James Nixey", "James O'Brien"],
    "organizations": ["KCNA", "US State Department", "Chatham House", "UN Security Council"],
    "locations": ["Russia", "North Korea", "Ukraine", "South Korea", "Pyongyang", "Vladivostok", "Moscow"],
}
SEED_FORBIDDEN = [
    "Amazon",
    "Amazon Prime",
    "Amazon Prime Video",
    "Putin's",
    "North Korea's",
    "Mr Putin",
    "Putin",
    "Kim",
]
GUM_GROUPS = {"person": "persons", "organization": "organizations", "place": "locations"}
BENCH_ARTICLES = 100
BENCH_WORDS = 850


def article(
    title: str, body: str, published_at: str | None = None, source: str | None = None, path: str = "eval"
) -> CleanArticle:
    """A CleanArticle for evaluation input."""
    ref = _source_ref(path, body)
    return CleanArticle(
        id=path, title=title, body=body, source=ref, group="eval", published_at=published_at, published_at_source=source
    )


def _source_ref(path: str, text: str) -> SourceRef:
    return SourceRef(path=path, sha256="0" * 64, format="text", size=len(text), modified="2024-01-01T00:00:00+00:00")


# --- seed -----------------------------------------------------------------------------


def seed_article() -> CleanArticle:
    """The seed article as the clean step leaves it (its ad block removed)."""
    title, _, rest = SEED_FILE.read_text(encoding="utf-8").partition("\n")
    paragraphs = [" ".join(block.split()) for block in rest.split("\n\n") if block.strip()]
    try:
        from newsetl.tasks.clean import learn_boilerplate, strip_boilerplate
    except ImportError:  # the clean step is another module's; without it drop the known ad lines
        kept = [paragraph for paragraph in paragraphs if not SEED_AD_LINES.match(paragraph)]
        return article(title.strip(), "\n\n".join(kept), path=str(SEED_FILE))
    extracted = ExtractedArticle(
        source=_source_ref(str(SEED_FILE), rest), title=title.strip(), paragraphs=tuple(paragraphs), group="seed"
    )
    clean_settings = load_settings().clean
    cleaned = strip_boilerplate(extracted, learn_boilerplate([extracted], clean_settings), clean_settings)
    if cleaned is None:
        raise RuntimeError("the clean step left nothing of the seed article")
    return cleaned


def evaluate_seed(model: NerSession, settings: EnrichSettings) -> dict[str, Any]:
    """Pass/fail per expected and forbidden seed entity."""
    enrichment = enrich_articles([seed_article()], model, settings)[0]
    checks = []
    for group, names in SEED_EXPECTED.items():
        found = getattr(enrichment, group)
        checks += [{"check": f"{group} has {name!r}", "ok": name in found} for name in names]
    every = {entity.text for entity in enrichment.entities}
    checks += [{"check": f"no {name!r}", "ok": name not in every} for name in SEED_FORBIDDEN]
    return _checked(checks, enrichment)


# --- publication dates ------------------------------------------------------------------


def _checked(checks: list[dict[str, Any]], enrichment: Enrichment) -> dict[str, Any]:
    """An article's checks with their counts, and the entities it got."""
    return {
        "checks": checks,
        "passed": sum(check["ok"] for check in checks),
        "total": len(checks),
        "persons": list(enrichment.persons),
        "organizations": list(enrichment.organizations),
        "locations": list(enrichment.locations),
    }


def evaluate_publication_dates() -> dict[str, Any]:
    """Exact-day accuracy on htmldate-eval, per k-fold part: ours next to htmldate alone (both option sets).

    The day compared is the one the page states (our reader's value before it is stored in UTC,
    see tasks/dates.canonical_date), as htmldate gives it and as the ground truth has it.
    """
    from htmldate import find_date
    from htmldate.utils import decode_file

    rows = [json.loads(line) for line in (HTMLDATE_EVAL / "manifest.jsonl").read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row.get("date")]
    scores: dict[str, Counter[str]] = defaultdict(Counter)
    seconds: Counter[str] = Counter()
    finders = {
        "ours": publication_date_from_html,
        "htmldate original_date=True": lambda html, url: find_date(html, original_date=True, url=url),
        "htmldate defaults": lambda html, url: find_date(html, url=url),
    }
    for row in rows:
        html = decode_file(gzip.decompress((HTMLDATE_EVAL / row["path"]).read_bytes()))
        for name, finder in finders.items():
            started = time.perf_counter()
            found = finder(html, row["url"])
            seconds[name] += time.perf_counter() - started
            correct = (found or "")[:10] == row["date"]
            scores[name]["all"] += correct
            scores[name][row["set"]] += correct
            scores[name][f"part {part_of(row['url'])}"] += correct
    sizes = (
        Counter(row["set"] for row in rows)
        | Counter(f"part {part_of(row['url'])}" for row in rows)
        | Counter(all=len(rows))
    )
    return {
        "pages": len(rows),
        "accuracy": {
            name: {part: round(score[part] / sizes[part], 4) for part in sizes} for name, score in scores.items()
        },
        "seconds": {name: round(value, 2) for name, value in seconds.items()},
    }


# --- GUM entities -----------------------------------------------------------------------


@dataclass(frozen=True)
class GumDocument:
    """One GUM news text and its named person/organization/place entities."""

    name: str
    title: str
    body: str
    published_at: str | None
    entities: dict[str, tuple[str, set[str]]]  # cluster id -> (group, names)


def read_gum_documents(folder: Path = GUM_CONLLU) -> list[GumDocument]:
    """GUM news documents with their named person/organization/place entities."""
    return [_read_gum(path) for path in sorted(folder.glob("*.conllu"))]


@dataclass
class _Mention:
    etype: str
    identity: str
    tokens: list[tuple[str, str, str, str]]  # (id, head, form, upos)


def _read_gum(path: Path) -> GumDocument:
    """One conllu document: paragraphs of text, and entity clusters named by a mention.

    A mention is named when its syntactic head (the token whose head lies outside the mention)
    is a PROPN, or when it is linked to Wikipedia and holds a run of proper nouns ("author Truman
    Capote": the corpus' own definition of a named entity); a cluster is a named entity when one
    of its mentions is named. Its names are those mentions' texts, their proper-noun cores and the
    cluster's Wikipedia title.
    """
    paragraphs: list[list[str]] = []
    sentences: list[str] = []
    date_created = None
    open_mentions: dict[str, list[_Mention]] = defaultdict(list)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    names: dict[str, set[str]] = defaultdict(set)
    identities: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# meta::dateCreated"):
            date_created = line.split("=", 1)[1].strip()
        elif re.match(r"# newpar(?!_)\b", line) and sentences:
            paragraphs.append(sentences)
            sentences = []
        elif line.startswith("# text = "):
            sentences.append(line[len("# text = ") :])
        columns = line.split("\t")
        if len(columns) != 10 or not columns[0].isdigit():
            continue
        token = (columns[0], columns[6], columns[1], columns[3])
        for stack in open_mentions.values():
            for mention in stack:
                mention.tokens.append(token)
        entity = next((part[len("Entity=") :] for part in columns[9].split("|") if part.startswith("Entity=")), "")
        for cluster, spec, closed in _entity_events(entity):
            if spec is not None:
                fields = spec.split("-", 6)
                open_mentions[cluster].append(_Mention(fields[0], fields[6] if len(fields) == 7 else "", [token]))
            if spec is None or closed:
                _close_mention(open_mentions[cluster], types[cluster], names[cluster], identities[cluster])
    if sentences:
        paragraphs.append(sentences)
    texts = [" ".join(paragraph) for paragraph in paragraphs]
    entities = {
        cluster: (GUM_GROUPS[counts.most_common(1)[0][0]], names[cluster] | identities[cluster])
        for cluster, counts in types.items()
        if names[cluster] and counts.most_common(1)[0][0] in GUM_GROUPS
    }
    return GumDocument(path.stem, texts[0], "\n\n".join(texts[1:]), date_created, entities)


def _entity_events(entity: str) -> Iterator[tuple[str, str | None, bool]]:
    """(cluster, spec, closed at once) for each "(id-spec" and (cluster, None, True) for each "id)"."""
    for opening, spec, closed, closing in re.findall(r"\((\d+)-([^()]*)(\)?)|(\d+)\)", entity):
        if opening:
            yield opening, spec, bool(closed)
        else:
            yield closing, None, True


def _close_mention(stack: list[_Mention], types: Counter[str], names: set[str], identities: set[str]) -> None:
    """Record a finished mention: its type, its names when its head is a proper noun."""
    if not stack:
        return
    mention = stack.pop()
    types[mention.etype] += 1
    if mention.identity:
        identities.add(unquote(mention.identity).replace("_", " "))
    ids = {token_id for token_id, _, _, _ in mention.tokens}
    heads = [index for index, (_, head, _, _) in enumerate(mention.tokens) if head not in ids]
    if not heads or mention.tokens[heads[0]][3] != "PROPN":
        if mention.identity:
            names.update(_proper_noun_runs(mention.tokens)[-1:])
        return
    words = [form for _, _, form, _ in mention.tokens]
    while words and words[0].lower() in {"the", "a", "an"}:
        words = words[1:]
    names.add(" ".join(words))
    start = end = heads[0]
    while start > 0 and mention.tokens[start - 1][3] == "PROPN":
        start -= 1
    while end + 1 < len(mention.tokens) and mention.tokens[end + 1][3] == "PROPN":
        end += 1
    names.add(" ".join(form for _, _, form, _ in mention.tokens[start : end + 1]))


def _proper_noun_runs(tokens: list[tuple[str, str, str, str]]) -> list[str]:
    """The mention's runs of proper nouns, shortest first ("Hau Lung - bin": hyphens inside a run belong to it)."""
    runs: list[list[str]] = [[]]
    for _, _, form, upos in tokens:
        if upos == "PROPN" or (runs[-1] and form == "-"):
            runs[-1].append(form)
        elif runs[-1]:
            runs.append([])
    return sorted((" ".join(run).rstrip(" -") for run in runs if run), key=len)


def normalise_name(name: str) -> str:
    """Lowercase name without punctuation, possessive or leading article, for matching."""
    name = name.replace("’", "'").lower()
    name = re.sub(r"'s\b", "", name)
    name = re.sub(r"[^\w\s-]", "", name).replace("-", " ")
    name = re.sub(r"^(the|a|an)\s+", "", " ".join(name.split()))
    return name


def _matches(predicted: str, gold_names: set[str]) -> bool:
    """Exact after normalisation, or one is the other's trailing words (a surname, a short form)."""
    mine = normalise_name(predicted)
    for gold in gold_names:
        theirs = normalise_name(gold)
        if mine == theirs or theirs.endswith(" " + mine) or mine.endswith(" " + theirs):
            return True
    return False


# A predicted entity: its canonical name, then the other names the article used for it. It matches
# a gold entity when one of them does (a filter finds the article by any of them).
Predicted = tuple[str, ...]


@dataclass(frozen=True)
class GumMentions:
    """A GUM document's NER mentions and text, as enrich_with_spans reads them, and spaCy's raw names."""

    mentions: tuple[Mention, ...]
    text: str
    raw: dict[str, list[Predicted]]


def gum_mentions(model: NerSession, documents: list[GumDocument], settings: EnrichSettings) -> list[GumMentions]:
    """Each document's mentions, found once by the English model."""
    english = load_models(settings)["en"]
    found = []
    for number, doc in enumerate(documents):
        item = article(doc.title, doc.body, doc.published_at, "json", f"gum-{number}")
        text_spans = _name_spans(english, item, settings)
        mentions = [mention for text, spans in text_spans for mention in mentions_in(text, spans)]
        raw = _raw_names(text_spans)
        groups = {group: [(name,) for name in sorted(raw[group])] for group in GUM_GROUPS.values()}
        found.append(GumMentions(tuple(mentions), "\n".join(text for text, _ in text_spans), groups))
    return found


# Each text NER reads of an article, with the (label, start, end) of the names the model found in it.
NameSpans = list[tuple[str, list[tuple[str, int, int]]]]


def _name_spans(english: Any, item: CleanArticle, settings: EnrichSettings) -> NameSpans:
    """Each text NER reads of the article, with the model's spans of names in it."""
    texts = [text for text, _ in ner_texts(item, settings.max_chars)]
    found = entity_spans(english, texts, ENTITY_LABELS, settings.batch_size)
    return [(text, [span for span in spans if span[0] in NAME_GROUPS]) for text, spans in zip(texts, found)]


def _raw_names(text_spans: NameSpans) -> dict[str, set[str]]:
    """spaCy's entity texts by group, without clean-up."""
    raw: dict[str, set[str]] = defaultdict(set)
    for text, spans in text_spans:
        for label, start, end in spans:
            raw[NAME_GROUPS[label]].add(text[start:end])
    return raw


def gum_predictions(
    found: list[GumMentions], knowledge: EntityKnowledge, rules: CleanupRules = ALL_RULES
) -> list[dict[str, list[Predicted]]]:
    """Per document and group, each entity the clean-up makes of the mentions."""
    predictions = []
    for item in found:
        groups: dict[str, list[Predicted]] = {group: [] for group in GUM_GROUPS.values()}
        for entity in canonical_entities(item.mentions, knowledge, item.text, rules):
            if NAME_GROUPS[entity.label] in groups:
                groups[NAME_GROUPS[entity.label]].append((entity.text, *entity.aliases))
        predictions.append(groups)
    return predictions


def evaluate_gum(model: NerSession, settings: EnrichSettings) -> dict[str, Any]:
    """Document-level P/R/F1 of persons/organizations/locations against GUM's named entities.

    Per document, each predicted entity is correct if one of its names matches a name of a gold
    entity of the mapped type; each gold entity is found if a predicted entity of that type matches
    one of its names (exactly after normalisation, or as its trailing words: "Putin" ~ "Vladimir
    Putin"). "untyped" ignores the type (GUM types countries acting politically as organizations).
    The raw rows score spaCy's entity texts before clean-up, on the same paragraphs. The folds:
    the switchable clean-up rules chosen on one part of the documents, scored on the other.
    """
    documents = read_gum_documents()
    knowledge = load_knowledge()
    found = gum_mentions(model, documents, settings)
    return {
        "documents": len(documents),
        "scores": _score_gum(documents, gum_predictions(found, knowledge)),
        "raw_spacy": _score_gum(documents, [item.raw for item in found]),
        "folds": evaluate_gum_folds(documents, found, knowledge),
    }


def _choose_rules(f1: Callable[[CleanupRules], float]) -> CleanupRules:
    """The rules to keep by backward elimination: from all on, switch off the rule whose removal raises `f1` most.

    Stops when no removal raises it (a tie keeps the rule). With more than a dozen rules, trying
    every subset (2^n choices, each scoring the part's documents) takes minutes; this takes n^2 at most.
    """
    chosen, best = ALL_RULES, f1(ALL_RULES)
    while True:
        trials = [chosen.switched(**{name: False}) for name, on in chosen.__dict__.items() if on]
        scored = [(f1(rules), -number, rules) for number, rules in enumerate(trials)]
        if not scored or max(scored, key=lambda item: item[:2])[0] <= best:
            return chosen
        best, _, chosen = max(scored, key=lambda item: item[:2])


def evaluate_gum_folds(
    documents: list[GumDocument], found: list[GumMentions], knowledge: EntityKnowledge
) -> list[dict[str, Any]]:
    """k-fold: the rules chosen for micro F1 on one part (see _choose_rules) scored on the other part."""
    parts = [list(range(start, len(documents), GUM_FOLDS)) for start in range(GUM_FOLDS)]
    results = []
    for fit in parts:
        scored = [index for index in range(len(documents)) if index not in fit]

        def scores(rules: CleanupRules, indexes: list[int]) -> dict[str, dict[str, float]]:
            predictions = gum_predictions([found[index] for index in indexes], knowledge, rules)
            return _score_gum([documents[index] for index in indexes], predictions)

        best = _choose_rules(lambda rules, part=fit: scores(rules, part)["micro"]["f1"])
        results.append({
            "fit_on": [documents[index].name for index in fit],
            "scored_on": [documents[index].name for index in scored],
            "rules_chosen": [name for name, on in best.__dict__.items() if on],
            "scores": scores(best, scored),
            "all_rules": scores(ALL_RULES, scored),
            "raw_spacy": _score_gum([documents[index] for index in scored], [found[index].raw for index in scored]),
        })  # fmt: skip
    return results


def _any_matches(predicted: Predicted, gold_names: set[str]) -> bool:
    return any(_matches(name, gold_names) for name in predicted)


def _score_gum(
    documents: list[GumDocument], predictions: list[dict[str, list[Predicted]]]
) -> dict[str, dict[str, float]]:
    """P/R/F1 per group, micro over groups, and untyped."""
    typed: dict[str, Counter[str]] = defaultdict(Counter)
    untyped: Counter[str] = Counter()
    for doc, predicted in zip(documents, predictions, strict=True):
        every_gold = [names for _, names in doc.entities.values()]
        for group in GUM_GROUPS.values():
            gold = [names for kind, names in doc.entities.values() if kind == group]
            mine = predicted.get(group, [])
            typed[group].update(
                tp=sum(any(_any_matches(entity, names) for names in gold) for entity in mine),
                predicted=len(mine),
                found=sum(any(_any_matches(entity, names) for entity in mine) for names in gold),
                gold=len(gold),
            )
            untyped.update(
                tp=sum(any(_any_matches(entity, names) for names in every_gold) for entity in mine),
                predicted=len(mine),
            )
        every_predicted = [entity for group in GUM_GROUPS.values() for entity in predicted.get(group, [])]
        matched = [entity for entity in every_predicted if any(_any_matches(entity, names) for names in every_gold)]
        found = sum(any(_any_matches(entity, names) for entity in every_predicted) for names in every_gold)
        # Entities beyond one per gold entity found: "Putin" next to "Vladimir Putin".
        untyped.update(found=found, gold=len(every_gold), redundant=max(0, len(matched) - found))
    rows = {group: _prf(counts) for group, counts in typed.items()}
    rows["micro"] = _prf(sum(typed.values(), Counter()))
    rows["untyped"] = _prf(untyped)
    return rows


def _prf(counts: Counter[str]) -> dict[str, float]:
    precision = counts["tp"] / counts["predicted"] if counts["predicted"] else 0.0
    recall = counts["found"] / counts["gold"] if counts["gold"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    row = {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "predicted": counts["predicted"],
        "gold": counts["gold"],
    }
    if "redundant" in counts:
        row["redundant"] = counts["redundant"]
    return row


# --- a French article, and the top entities of trafilatura's evaluation pages -----------------


def evaluate_french(model: NerSession, settings: EnrichSettings) -> dict[str, Any]:
    """A French article of our own: language fr, its persons and places found."""
    enrichment = enrich_articles([article(*FRENCH_ARTICLE)], model, settings)[0]
    checks = [{"check": "language is fr", "ok": enrichment.language == "fr"}]
    for group, names in FRENCH_EXPECTED.items():
        checks += [{"check": f"{group} has {name!r}", "ok": name in getattr(enrichment, group)} for name in names]
    return _checked(checks, enrichment)


def evaluate_entity_cases(model: NerSession, settings: EnrichSettings) -> dict[str, Any]:
    """The hard cases of evals/entity_cases.py: our entities and spaCy's raw ones, checked alike."""
    items = [article(case.title, case.body, path=f"case-{number}") for number, case in enumerate(CASES)]
    ours = [
        {group: list(getattr(enrichment, group)) for group in GUM_GROUPS.values()}
        for enrichment in enrich_articles(items, model, settings)
    ]
    english = load_models(settings)["en"]
    raw = [
        {group: sorted(names) for group, names in _raw_names(_name_spans(english, item, settings)).items()}
        for item in items
    ]
    return score_cases(ours, raw)


def evaluate_top_entities(model: NerSession, settings: EnrichSettings, top: int = TOP_ENTITIES) -> dict[str, Any]:
    """The most frequent persons, organisations and places (articles naming them) of trafilatura's evaluation pages."""
    from trafilatura.utils import decode_file

    from evals.extraction import clean_all, source_of
    from newsetl.tasks.readers.html_page import extract_html

    extract = load_settings().extract
    manifest = (TRAFILATURA_EVAL / "manifest.jsonl").read_text(encoding="utf-8")
    items = [json.loads(line) for line in manifest.splitlines() if line.strip()]
    extracted = []
    for item in items:
        data = gzip.decompress((TRAFILATURA_EVAL / item["path"]).read_bytes())
        source = source_of(item["path"], data, "html+gzip")
        page = extract_html(decode_file(data), source, "folder:trafilatura-eval", extract, url=item["url"])
        if page is not None:
            extracted.append(page)
    cleaned = [item for item in clean_all(extracted, load_settings().clean) if item is not None]
    enrichments = enrich_articles(cleaned, model, settings)
    result: dict[str, Any] = {
        "pages": len(items),
        "articles": len(cleaned),
        "languages": dict(Counter(e.language for e in enrichments).most_common()),
        "languages_without_ner": dict(Counter(e.language for e in enrichments if not e.ner_applied).most_common()),
    }
    for group in GUM_GROUPS.values():
        result[group] = top_names(enrichments, group, top)
    return result


def top_names(enrichments: list[Any], group: str, top: int = TOP_ENTITIES) -> list[tuple[str, int]]:
    """The `top` names of a group by articles naming them, the same list every run.

    Ties go to the name of the earlier article (in the manifest's order, as Counter.most_common
    had it), then to the more mentioned, then by name: not to the order of a set, which changes
    from one process to the next.
    """
    articles: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    first: dict[str, int] = {}
    for number, enrichment in enumerate(enrichments):
        names = set(getattr(enrichment, group))
        articles.update(names)
        mentions.update({entity.text: entity.count for entity in enrichment.entities if entity.text in names})
        first.update({name: number for name in names if name not in first})
    ranked = sorted(articles, key=lambda name: (-articles[name], first[name], -mentions[name], name))
    return [(name, articles[name]) for name in ranked[:top]]


# --- relative dates ---------------------------------------------------------------------


def evaluate_relative_dates(model: NerSession, settings: EnrichSettings) -> dict[str, Any]:
    """The issues' fixtures: published Thursday 2023-09-14, "on Wednesday" is 2023-09-13; granularity; tense."""
    fixture = article(
        "Leaders meet in the east",
        "The two leaders held a summit on Wednesday in the far east.\n\n"
        "They agreed last month to meet again next year, and spoke of the next 100 years of friendship "
        "after 75 years of ties.\n\nA second summit will follow later this year.",
        "2023-09-14",
        "json",
    )
    debate = article(  # published on a Monday
        "Debate night", "Candidates will face off in Tuesday's debate in the capital.", "2023-09-11", "json"
    )
    mentions, debate_mentions = (e.dates_mentioned for e in enrich_articles([fixture, debate], model, settings))
    resolved = {mention.text: (mention.date, mention.granularity) for mention in mentions}
    expected = {
        "Wednesday": ("2023-09-13", "day"),
        "last month": ("2023-08-01", "month"),
        "next year": ("2024-01-01", "year"),
    }
    vague = ["the next 100 years", "75 years"]
    checks = [
        {"check": f"{text!r} -> {day} ({granularity})", "ok": resolved.get(text) == (day, granularity)}
        for text, (day, granularity) in expected.items()
    ]
    later = [value for text, value in resolved.items() if "this year" in text]
    checks.append({"check": "'later this year' -> the year 2023, not a day", "ok": later == [("2023-01-01", "year")]})
    checks += [
        {"check": f"{text!r} not resolved", "ok": not any(text in mention for mention in resolved)} for text in vague
    ]
    tuesday = [(m.date, m.granularity) for m in debate_mentions if "Tuesday" in m.text]
    checks.append(
        {
            "check": '"will face off in Tuesday\'s debate" (Monday story) -> 2023-09-12',
            "ok": tuesday == [("2023-09-12", "day")],
        }
    )
    offsets_ok = all(fixture.body[mention.start : mention.end] == mention.text for mention in mentions)
    checks.append({"check": "offsets point into the body", "ok": offsets_ok})
    return {
        "resolved": {text: list(value) for text, value in resolved.items()},
        "checks": checks,
        "passed": sum(check["ok"] for check in checks),
        "total": len(checks),
    }


# --- throughput ---------------------------------------------------------------------------


def benchmark_articles(count: int = BENCH_ARTICLES, words: int = BENCH_WORDS) -> list[CleanArticle]:
    """`count` articles of about `words` words each, paragraphs of English news from the corpora."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    bodies = [item["articleBody"] for item in json.loads(BENCH_TEXTS.read_text(encoding="utf-8")).values()]
    bodies = [body for body in bodies if identifier.classify(body[:2000])[0] == "en"]
    paragraphs = [" ".join(block.split()) for body in bodies for block in body.split("\n") if len(block.split()) >= 8]
    articles, position = [], 0
    for number in range(count):
        chosen: list[str] = []
        while sum(len(paragraph.split()) for paragraph in chosen) < words:
            chosen.append(paragraphs[position % len(paragraphs)])
            position += 1
        articles.append(
            article(f"Benchmark article {number}", "\n\n".join(chosen), "2023-09-14", "json", f"bench-{number}")
        )
    return articles


def evaluate_throughput(
    settings: EnrichSettings, process_counts: tuple[int, ...] = (1, 2), rounds: int = 1
) -> dict[str, Any]:
    """Words per second of bare nlp.pipe over the same texts and of NerSession.enrich, per process count.

    Bare = the loaded pipeline's nlp.pipe(n_process=N) over titles and paragraphs, output
    discarded. Each figure is the best of `rounds` interleaved runs (order alternating): the
    machine is shared.
    The worker pool is started (and its models loaded) before timing; its start-up is reported apart.
    """
    articles = benchmark_articles()
    texts = [text for item in articles for text in [item.title, *item.paragraphs]]
    words = sum(len(text.split()) for text in texts)
    best: dict[tuple[str, int], float] = {}
    pool_start = {}
    load_before = os.getloadavg()[0]
    nlp, _ = load_ner_pipeline(settings)
    list(nlp.pipe(texts[:50]))  # warm-up
    sessions = {count: NerSession(replace(settings, processes=count)) for count in process_counts}
    try:
        for processes, session in sessions.items():
            if processes > 1:
                started = time.perf_counter()
                session.enrich(articles[:4])
                pool_start[processes] = round(time.perf_counter() - started, 2)
        for round_number in range(rounds):
            for processes in process_counts:
                runs = [("bare", processes), ("enrich", processes)]
                for kind, count in runs if round_number % 2 == 0 else runs[::-1]:
                    sessions[count].ner.forget_before(sys.maxsize)  # no spans kept from an earlier round
                    started = time.perf_counter()
                    if kind == "bare":
                        for _doc in nlp.pipe(texts, batch_size=settings.batch_size, n_process=count):
                            pass
                    else:
                        sessions[count].enrich(articles)
                    _keep_best(best, (kind, count), time.perf_counter() - started)
    finally:
        for session in sessions.values():
            session.close()
    rows = {
        processes: {
            "bare_words_per_s": round(words / best[("bare", processes)]),
            "enrich_words_per_s": round(words / best[("enrich", processes)]),
            "ratio_to_bare": round(best[("bare", processes)] / best[("enrich", processes)], 3),
        }
        for processes in process_counts
    }
    return {
        "articles": len(articles),
        "words": words,
        "rounds": rounds,
        "pool_start_seconds": pool_start,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "by_processes": rows,
    }


def _keep_best(best: dict[tuple[str, int], float], key: tuple[str, int], seconds: float) -> None:
    best[key] = min(seconds, best.get(key, seconds))


# --- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--skip-throughput", action="store_true", help="leave out the NER throughput runs (~1 min)")
    parser.add_argument(
        "--skip-top", action="store_true", help="leave out the top entities of trafilatura's pages (~2 min)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="throughput runs per configuration; the best counts")
    args = parser.parse_args(argv)
    if not CORPORA.is_dir():
        print(f"corpora not found at {CORPORA} (set NEWSETL_CORPORA)", file=sys.stderr)
        return 1
    settings = replace(load_settings().enrich, processes=1)
    report: dict[str, Any] = {}
    with load_ner_model(settings) as model:
        report["seed"] = evaluate_seed(model, settings)
        _print_checks("Seed article entities", report["seed"])
        report["relative_dates"] = evaluate_relative_dates(model, settings)
        _print_checks("Relative-date fixtures (published 2023-09-14; a Monday story)", report["relative_dates"])
        report["gum"] = evaluate_gum(model, settings)
        _print_gum(report["gum"])
        report["french"] = evaluate_french(model, settings)
        _print_checks("French article", report["french"])
        report["entity_cases"] = evaluate_entity_cases(model, settings)
        _print_cases(report["entity_cases"])
        if not args.skip_top:
            report["top_entities"] = evaluate_top_entities(model, settings)
            _print_top(report["top_entities"])
    report["publication_dates"] = evaluate_publication_dates()
    _print_dates(report["publication_dates"])
    if not args.skip_throughput:
        report["throughput"] = evaluate_throughput(settings, rounds=args.rounds)
        _print_throughput(report["throughput"])
    if args.json:
        print(json.dumps(report, default=str))
    return 0


def _print_checks(heading: str, result: dict[str, Any]) -> None:
    print(f"\n{heading}: {result['passed']}/{result['total']} passed")
    for check in result["checks"]:
        print(f"  {'PASS' if check['ok'] else 'FAIL'}  {check['check']}")
    for group in ("persons", "organizations", "locations"):
        if group in result:
            print(f"  {group}: {', '.join(result[group])}")


def _print_cases(result: dict[str, Any]) -> None:
    print(
        f"\nEntity hard cases (evals/entity_cases.py, written for the eval): {result['passed']}/{result['total']} "
        f"checks pass; spaCy's raw entities {result['raw_passed']}/{result['total']}"
    )
    for case in result["cases"]:
        for check in case["checks"]:
            if not check["ok"]:
                print(f"  FAIL  {case['kind']}: {check['check']}")


def _print_gum(result: dict[str, Any]) -> None:
    print(f"\nGUM news entities ({result['documents']} documents; document-level names, see evaluate_gum)")
    _print_gum_rows(list(result["scores"].items()) + [(f"raw {key}", row) for key, row in result["raw_spacy"].items()])
    print("  raw = spaCy's entity texts without clean-up; redundant = entities beyond one per gold entity found")
    for fold in result["folds"]:
        print(f"\n  k-fold: rules chosen on {len(fold['fit_on'])} documents ({', '.join(fold['rules_chosen'])}),")
        print(f"  scored on the other {len(fold['scored_on'])}: {', '.join(fold['scored_on'])}")
        parts = (("chosen", "scores"), ("all rules", "all_rules"), ("raw", "raw_spacy"))
        rows = [(f"{label} {key}", fold[part][key]) for label, part in parts for key in ("organizations", "micro")]
        _print_gum_rows(rows)


def _print_gum_rows(rows: list[tuple[str, dict[str, Any]]]) -> None:
    print(f"  {'type':22} {'P':>6} {'R':>6} {'F1':>6} {'pred':>6} {'gold':>6} {'redundant':>9}")
    for group, row in rows:
        figures = (
            f"{row['precision']:6.3f} {row['recall']:6.3f} {row['f1']:6.3f} {row['predicted']:6d} {row['gold']:6d}"
        )
        print(f"  {group:22} {figures} {row.get('redundant', ''):>9}")


def _print_top(result: dict[str, Any]) -> None:
    pages, articles = result["pages"], result["articles"]
    print(f"\nTop entities of trafilatura-eval ({pages} pages, {articles} articles; articles naming each)")
    print(f"  languages: {result['languages']}; without NER: {result['languages_without_ner']}")
    for group in GUM_GROUPS.values():
        print(f"  {group}: " + "; ".join(f"{name} ({count})" for name, count in result[group]))


def _print_dates(result: dict[str, Any]) -> None:
    print(f"\nPublication date, exact day on htmldate-eval ({result['pages']} pages with a date)")
    for name, accuracy in result["accuracy"].items():
        parts = "  ".join(f"{part}={value:.4f}" for part, value in sorted(accuracy.items()) if part != "all")
        # k-fold parts (by URL hash) first: nothing is fitted here, both parts are held-out figures
        print(f"  {name:30} {accuracy['all']:.4f}   ({parts}; {result['seconds'][name]} s)")


def _print_throughput(result: dict[str, Any]) -> None:
    print(
        f"\nNER throughput ({result['articles']} English articles, {result['words']} words, "
        f"best of {result['rounds']}; load average before/after {result['load_average']}; "
        f"worker pool start-up {result['pool_start_seconds']} s)"
    )
    print(f"  {'processes':>9} {'bare nlp.pipe w/s':>18} {'enrich_articles w/s':>20} {'ratio':>6}")
    for processes, row in result["by_processes"].items():
        print(
            f"  {processes:>9} {row['bare_words_per_s']:>18} {row['enrich_words_per_s']:>20} {row['ratio_to_bare']:>6}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
