"""Enrichment figures: seed entities, publication dates, GUM entity P/R, relative dates, NER throughput."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from newsetl.config.settings import EnrichSettings, load_settings
from newsetl.tasks.entities import NAME_GROUPS
from newsetl.tasks.ner import NerSession, enrich_articles, load_ner_model
from newsetl.tasks.ner_models import load_ner_pipeline
from newsetl.tasks.pubdate import publication_date_from_html
from newsetl.tasks.records import CleanArticle, ExtractedArticle, SourceRef

CORPORA = Path(os.environ.get("NEWSETL_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
SEED_FILE = CORPORA / "seed" / "000_5e6e1551d8ebd9d7.txt"
HTMLDATE_EVAL = CORPORA / "htmldate-eval"
GUM_CONLLU = CORPORA / "gum-news-ner" / "conllu"
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
    return {
        "checks": checks,
        "passed": sum(check["ok"] for check in checks),
        "total": len(checks),
        "persons": list(enrichment.persons),
        "organizations": list(enrichment.organizations),
        "locations": list(enrichment.locations),
    }


# --- publication dates ------------------------------------------------------------------


def evaluate_publication_dates() -> dict[str, Any]:
    """Exact-day accuracy on htmldate-eval: ours next to htmldate alone (both option sets)."""
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
    sizes = Counter(row["set"] for row in rows) | Counter(all=len(rows))
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
    """One conllu document: paragraphs of text, and entity clusters named by a PROPN-headed mention.

    A mention is named when its syntactic head (the token whose head lies outside the mention)
    is a PROPN; a cluster is a named entity when one of its mentions is named. Its names are
    those mentions' texts, their proper-noun cores and the cluster's Wikipedia title.
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
    return GumDocument(texts[0], "\n\n".join(texts[1:]), date_created, entities)


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


def evaluate_gum(model: NerSession, settings: EnrichSettings) -> dict[str, Any]:
    """Document-level P/R/F1 of persons/organizations/locations against GUM's named entities.

    Per document, each predicted name is correct if it matches a name of a gold entity of the
    mapped type; each gold entity is found if a predicted name of that type matches one of its
    names (exactly after normalisation, or as its trailing words: "Putin" ~ "Vladimir Putin").
    "untyped" ignores the type (GUM types countries acting politically as organizations).
    The raw row scores spaCy's entity texts before clean-up, on the same paragraphs.
    """
    documents = read_gum_documents()
    articles = [
        article(doc.title, doc.body, doc.published_at, "json", f"gum-{number}") for number, doc in enumerate(documents)
    ]
    ours = [
        {group: list(getattr(enrichment, group)) for group in GUM_GROUPS.values()}
        for enrichment in enrich_articles(articles, model, settings)
    ]
    nlp, _ = load_ner_pipeline(settings)
    raw = []
    for item in articles:
        names: dict[str, set[str]] = defaultdict(set)
        for doc in nlp.pipe([item.title, *item.paragraphs]):
            for ent in doc.ents:
                if NAME_GROUPS.get(ent.label_) in GUM_GROUPS.values():
                    names[NAME_GROUPS[ent.label_]].add(ent.text)
        raw.append({group: sorted(names[group]) for group in GUM_GROUPS.values()})
    scores = _score_gum(documents, ours)
    return {
        "documents": len(documents),
        "scores": scores,
        "raw_spacy": {key: _score_gum(documents, raw)[key] for key in ("micro", "untyped")},
    }


def _score_gum(documents: list[GumDocument], predictions: list[dict[str, list[str]]]) -> dict[str, dict[str, float]]:
    """P/R/F1 per group, micro over groups, and untyped."""
    typed: dict[str, Counter[str]] = defaultdict(Counter)
    untyped: Counter[str] = Counter()
    for doc, predicted in zip(documents, predictions, strict=True):
        every_gold = [names for _, names in doc.entities.values()]
        for group in GUM_GROUPS.values():
            gold = [names for kind, names in doc.entities.values() if kind == group]
            typed[group].update(
                tp=sum(any(_matches(name, names) for names in gold) for name in predicted[group]),
                predicted=len(predicted[group]),
                found=sum(any(_matches(name, names) for name in predicted[group]) for names in gold),
                gold=len(gold),
            )
            untyped.update(
                tp=sum(any(_matches(name, names) for names in every_gold) for name in predicted[group]),
                predicted=len(predicted[group]),
            )
        every_predicted = [name for names in predicted.values() for name in names]
        matched = [name for name in every_predicted if any(_matches(name, names) for names in every_gold)]
        found = sum(any(_matches(name, names) for name in every_predicted) for names in every_gold)
        # Names beyond one per gold entity found: "Putin" next to "Vladimir Putin".
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


# --- relative dates ---------------------------------------------------------------------


def evaluate_relative_dates(model: NerSession, settings: EnrichSettings) -> dict[str, Any]:
    """The issue's fixture: published Thursday 2023-09-14, "on Wednesday" is 2023-09-13."""
    fixture = article(
        "Leaders meet in the east",
        "The two leaders held a summit on Wednesday in the far east.\n\n"
        "They agreed last month to meet again next year, and spoke of the next 100 years of friendship "
        "after 75 years of ties.",
        "2023-09-14",
        "json",
    )
    mentions = enrich_articles([fixture], model, settings)[0].dates_mentioned
    resolved = {mention.text: mention.date for mention in mentions}
    expected = {"Wednesday": "2023-09-13", "last month": "2023-08-01", "next year": "2024-01-01"}
    vague = ["the next 100 years", "75 years"]
    checks = [{"check": f"{text!r} -> {day}", "ok": resolved.get(text) == day} for text, day in expected.items()]
    checks += [
        {"check": f"{text!r} not resolved", "ok": not any(text in mention for mention in resolved)} for text in vague
    ]
    offsets_ok = all(fixture.body[mention.start : mention.end] == mention.text for mention in mentions)
    checks.append({"check": "offsets point into the body", "ok": offsets_ok})
    return {
        "resolved": resolved,
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
        _print_checks("Relative-date fixture (published 2023-09-14)", report["relative_dates"])
        report["gum"] = evaluate_gum(model, settings)
        _print_gum(report["gum"])
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


def _print_gum(result: dict[str, Any]) -> None:
    print(f"\nGUM news entities ({result['documents']} documents; document-level names, see evaluate_gum)")
    print(f"  {'type':14} {'P':>6} {'R':>6} {'F1':>6} {'pred':>6} {'gold':>6} {'redundant':>9}")
    rows = list(result["scores"].items()) + [(f"raw {key}", row) for key, row in result["raw_spacy"].items()]
    for group, row in rows:
        figures = (
            f"{row['precision']:6.3f} {row['recall']:6.3f} {row['f1']:6.3f} {row['predicted']:6d} {row['gold']:6d}"
        )
        print(f"  {group:14} {figures} {row.get('redundant', ''):>9}")
    print("  raw = spaCy's entity texts without clean-up; redundant = names beyond one per gold entity found")


def _print_dates(result: dict[str, Any]) -> None:
    print(f"\nPublication date, exact day on htmldate-eval ({result['pages']} pages with a date)")
    for name, accuracy in result["accuracy"].items():
        parts = "  ".join(f"{part}={value:.4f}" for part, value in sorted(accuracy.items()) if part != "all")
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
