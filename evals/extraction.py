"""Extraction and boilerplate removal, measured: seed article, article-extraction benchmark,
trafilatura's evaluation pages, and a synthetic folder of articles sharing site boilerplate.

Run: .venv/bin/python -m evals.extraction [--json] [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from trafilatura.utils import decode_file

from newsetl.config.settings import CleanSettings, ExtractSettings, load_settings
from newsetl.tasks.clean import learn_boilerplate, strip_boilerplate
from newsetl.tasks.readers.html_page import extract_html
from newsetl.tasks.records import CleanArticle, ExtractedArticle, SourceRef
from newsetl.tasks.text import normalize_text

CORPORA = Path(os.environ.get("NEWSETL_CORPORA", Path(__file__).resolve().parents[1].parent / "shared" / "corpora"))
SEED = CORPORA / "seed" / "000_5e6e1551d8ebd9d7.txt"
BENCHMARK = CORPORA / "scrapinghub-article-extraction-benchmark"
TRAFILATURA_EVAL = CORPORA / "trafilatura-eval"
# The ad block of the seed article, as the issue names it (a block starting with one of these).
SEED_AD_LINES = ("Amazon Prime logo", "Access unlimited streaming", "Sign up now for a 30-day free trial", "Sign up")


# --- readers and the pipeline under test ---------------------------------------------------


def source_of(path: str, data: bytes, format: str) -> SourceRef:
    """A SourceRef for an evaluation input (hash and dates are not under test)."""
    return SourceRef(path=path, sha256="", format=format, size=len(data), modified="1970-01-01T00:00:00Z")


def read_plain_text(path: Path, group: str) -> ExtractedArticle:
    """A plain-text article as the pipeline reads it (tasks.readers.text), or by the minimal rule without it."""
    data = path.read_bytes()
    text = data.decode("utf-8")
    try:
        from newsetl.tasks.readers.text import parse_text_article
    except ImportError:  # the extract step is another module's; the rule it implements is simple
        title, _, rest = normalize_text(text).partition("\n")
        paragraphs = tuple(block.strip() for block in re.split(r"\n\s*\n", rest) if block.strip())
    else:
        parsed = parse_text_article(text)
        title, paragraphs = (parsed[0] or "", parsed[1]) if isinstance(parsed, tuple) else ("", ())
    return ExtractedArticle(
        source=source_of(str(path), data, "text"), title=title.strip(), paragraphs=paragraphs, group=group
    )


def clean_all(articles: list[ExtractedArticle], settings: CleanSettings) -> list[CleanArticle | None]:
    """What the pipeline does between extraction and dedupe: learn the folder, then strip each article."""
    model = learn_boilerplate(articles, settings)
    return [strip_boilerplate(article, model, settings) for article in articles]


# --- metrics -------------------------------------------------------------------------------

# Tokenisation of the benchmark's evaluate.py: runs of word characters, case kept. Its
# score compares bags of 4-token shingles; with n=1 the same code gives bag-of-words overlap.
TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def overlap(true: str, predicted: str, n: int) -> tuple[float, float, float]:
    """(tp, fp, fn) of shingle bags, normalised to sum 1 so every page weighs the same."""
    gold, ours = shingles(true, n), shingles(predicted, n)
    tp, fp, fn = sum((gold & ours).values()), sum((ours - gold).values()), sum((gold - ours).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def mean_prf(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    """Mean per-page precision and recall, F1 of the two means (as the benchmark reports it)."""

    def precision(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else 0.0 if tp == fp == 0 else tp / (tp + fp)

    def recall(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else 0.0 if tp == fn == 0 else tp / (tp + fn)

    p = statistics.mean([precision(*row) for row in rows if row[0] + row[1] > 0] or [0.0])
    r = statistics.mean([recall(*row) for row in rows if row[0] + row[2] > 0] or [0.0])
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}


# --- the four evaluations ------------------------------------------------------------------


def evaluate_seed(clean: CleanSettings) -> dict:
    """Seed article: ad lines left (must be 0) and real paragraphs kept (must be all)."""
    if not SEED.exists():
        return {"skipped": f"{SEED} missing"}
    article = read_plain_text(SEED, "folder:seed")
    result = clean_all([article], clean)[0]
    kept = set(result.paragraphs) if result else set()
    ads = [p for p in article.paragraphs if p.startswith(SEED_AD_LINES)]
    real = [p for p in article.paragraphs if not p.startswith(SEED_AD_LINES)]
    return {
        "ad_lines": len(ads),
        "ad_lines_left": sum(p in kept for p in ads),
        "real_paragraphs": len(real),
        "real_paragraphs_kept": sum(p in kept for p in real),
    }


def evaluate_benchmark(extract: ExtractSettings, clean: CleanSettings, limit: int | None) -> dict:
    """Scrapinghub benchmark: mean precision/recall/F1 of our body and of plain trafilatura.extract."""
    truth_file = BENCHMARK / "ground-truth.json"
    if not truth_file.exists():
        return {"skipped": f"{truth_file} missing"}
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    keys = sorted(truth)[:limit]
    articles: list[ExtractedArticle | None] = []
    baseline: dict[str, str] = {}
    for key in keys:
        path = BENCHMARK / "html" / f"{key}.html.gz"
        data = gzip.decompress(path.read_bytes())
        html = data.decode("utf-8")
        # the call the benchmark's own run_trafilatura.py makes
        baseline[key] = trafilatura.extract(html, include_comments=False) or ""
        articles.append(
            extract_html(
                html, source_of(str(path), data, "html+gzip"), "folder:benchmark", extract, url=truth[key]["url"]
            )
        )
    cleaned = dict(zip(keys, _clean_present(articles, clean), strict=True))
    ours = {key: cleaned[key].body if cleaned[key] else "" for key in keys}
    gold = {key: truth[key].get("articleBody", "") for key in keys}
    return {
        "pages": len(keys),
        "groups": len({a.group for a in articles if a}),
        "shingles": {
            "ours": mean_prf([overlap(gold[k], ours[k], 4) for k in keys]),
            "trafilatura": mean_prf([overlap(gold[k], baseline[k], 4) for k in keys]),
        },
        "tokens": {
            "ours": mean_prf([overlap(gold[k], ours[k], 1) for k in keys]),
            "trafilatura": mean_prf([overlap(gold[k], baseline[k], 1) for k in keys]),
        },
    }


def _clean_present(articles: list[ExtractedArticle | None], clean: CleanSettings) -> list[CleanArticle | None]:
    present = [a for a in articles if a is not None]
    results = iter(clean_all(present, clean))
    return [next(results) if a is not None else None for a in articles]


def evaluate_trafilatura_pages(extract: ExtractSettings, clean: CleanSettings, limit: int | None) -> dict:
    """trafilatura's evaluation pages: share of "with" snippets found and "without" snippets absent."""
    manifest = TRAFILATURA_EVAL / "manifest.jsonl"
    if not manifest.exists():
        return {"skipped": f"{manifest} missing"}
    items = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    articles: list[ExtractedArticle | None] = []
    baseline: list[str] = []
    for item in items:
        path = TRAFILATURA_EVAL / item["path"]
        data = gzip.decompress(path.read_bytes())
        html = decode_file(data)
        baseline.append(trafilatura.extract(html, include_comments=False, url=item["url"]) or "")
        articles.append(
            extract_html(
                html, source_of(str(path), data, "html+gzip"), "folder:trafilatura-eval", extract, url=item["url"]
            )
        )
    ours = [a.body if a else "" for a in _clean_present(articles, clean)]

    def shares(texts: list[str]) -> dict[str, float]:
        # Both texts and snippets pass through normalize_text, so apostrophe and space
        # normalisation neither helps nor hurts either system.
        found = absent = with_total = without_total = 0
        for item, text in zip(items, texts, strict=True):
            text = " ".join(normalize_text(text).split())
            for snippet in item.get("with", []):
                with_total += 1
                found += " ".join(normalize_text(snippet).split()) in text
            for snippet in item.get("without", []):
                without_total += 1
                absent += " ".join(normalize_text(snippet).split()) not in text
        return {"with_found": round(found / with_total, 4), "without_absent": round(absent / without_total, 4)}

    return {"pages": len(items), "ours": shares(ours), "trafilatura": shares(baseline)}


@dataclass(frozen=True)
class SyntheticSite:
    """A made-up site: its boilerplate blocks and how they are placed around each story."""

    name: str
    top: Callable[[random.Random], list[str]]
    middle: Callable[[random.Random], list[str]]
    bottom: Callable[[random.Random], list[str]]


# Boilerplate written for this evaluation (no corpus text); varied per article on purpose.
HEADLINES = (
    "Council approves new cycle lanes for the harbour district",
    "Local bakery wins regional award for sourdough",
    "Storm warning issued for the weekend as winds pick up",
    "School board delays vote on four-day week",
    "Ferry timetable changes from next month",
    "Five walks to try before the autumn rain",
    "Hospital car park fees to rise in spring",
    "Why the old cinema is finally reopening",
    "Rail works close the northern line for ten days",
    "Rugby club celebrates a century on the same pitch",
    "Water bills set to climb by eight percent",
    "Police appeal for witnesses after warehouse fire",
    "New library hours announced for the summer",
    "The market traders who refuse to go cashless",
    "Airport expansion plan faces fresh objections",
    "Museum returns carved panels to island community",
    "Lifeboat crew rescues two kayakers off the point",
    "Housing estate plan cut back after residents object",
    "Bus drivers vote to accept pay offer",
    "Mayor sets out budget priorities for next year",
    "Heatwave brings record crowds to the beaches",
    "Fishing quota row reaches parliament",
    "Teenager's invention picked up by national retailer",
    "Roadworks to ease congestion at the ring road",
    "Festival organisers promise quieter late nights",
)


def _harbour_top(rng: random.Random) -> list[str]:
    return ["Share this article", "Facebook", "Twitter", "Email"] if rng.random() < 0.9 else []


def _harbour_middle(rng: random.Random) -> list[str]:
    box = ["Morning Tide", "The stories that matter on the coast, in your inbox before breakfast.", "Sign up"]
    return box if rng.random() < 0.75 else []


def _harbour_bottom(rng: random.Random) -> list[str]:
    year = rng.choice((2021, 2022, 2023, 2024))
    return ["Most read", *rng.sample(HEADLINES, 5), f"© {year} Harbour Courier Media Ltd. All rights reserved."]


def _valley_top(rng: random.Random) -> list[str]:
    return ["Advertisement"] + (["Photo: Valley Gazette archive"] if rng.random() < 0.5 else [])


def _valley_middle(rng: random.Random) -> list[str]:
    slot = [
        "Peakflix logo",
        "Stream every season of Mountain Rescue on Peakflix",
        "Start your 14-day free trial today",
        "Try it free",
    ]
    blocks = slot * (2 if rng.random() < 0.5 else 1)
    return blocks + [f"Read more: {rng.choice(HEADLINES)}"]


def _valley_bottom(rng: random.Random) -> list[str]:
    return [
        "Follow us on Facebook and Instagram for the latest from the valley.",
        "Support local journalism: become a member of the Valley Gazette from $5 a month.",
        f"Copyright {rng.choice((2022, 2023))} Valley Gazette",
    ]


def _metro_top(rng: random.Random) -> list[str]:
    return ["Listen to this article", f"{rng.randint(3, 12)} min read"]


def _metro_middle(rng: random.Random) -> list[str]:
    return ["Story continues below advertisement", "Trending now", *rng.sample(HEADLINES, 4)]


def _metro_bottom(rng: random.Random) -> list[str]:
    tags = ", ".join(rng.sample(("city hall", "transport", "housing", "courts", "schools", "weather", "business"), 3))
    return [
        "The Metro Ledger is an independent, reader-funded newsroom. Here is how we decide what to cover.",
        f"Tags: {tags}",
        "Tell us what you think",
        f"Comments ({rng.randint(0, 80)})",
    ]


SYNTHETIC_SITES = (
    SyntheticSite("harbour-courier", _harbour_top, _harbour_middle, _harbour_bottom),
    SyntheticSite("valley-gazette", _valley_top, _valley_middle, _valley_bottom),
    SyntheticSite("metro-ledger", _metro_top, _metro_middle, _metro_bottom),
)


def evaluate_synthetic_folder(clean: CleanSettings, articles_per_site: int = 20) -> dict:
    """Plain-text articles (benchmark gold bodies) wrapped in per-site boilerplate: lines left, paragraphs lost."""
    truth_file = BENCHMARK / "ground-truth.json"
    if not truth_file.exists():
        return {"skipped": f"{truth_file} missing"}
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    rng = random.Random(20240601)
    bodies = [
        paragraphs
        for paragraphs in (
            [normalize_text(p) for p in truth[key]["articleBody"].split("\n") if p.strip()] for key in sorted(truth)
        )
        if len(paragraphs) >= 3
    ]
    rng.shuffle(bodies)
    boilerplate_total = boilerplate_left = paragraphs_total = paragraphs_lost = 0
    with tempfile.TemporaryDirectory(prefix="newsetl-eval-") as tmp:
        files: list[tuple[Path, list[str], list[str]]] = []
        for site_index, site in enumerate(SYNTHETIC_SITES):
            folder = Path(tmp) / site.name
            folder.mkdir()
            for number in range(articles_per_site):
                story = bodies[(site_index * articles_per_site + number) % len(bodies)]
                top, middle, bottom = site.top(rng), site.middle(rng), site.bottom(rng)
                cut = rng.randint(1, len(story) - 1)
                blocks = [*top, *story[:cut], *middle, *story[cut:], *bottom]
                path = folder / f"{number:03d}.txt"
                title = f"{site.name} story {number}"
                path.write_text(title + "\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
                files.append((path, story, [*top, *middle, *bottom]))
        articles = [read_plain_text(path, f"folder:{path.parent.name}") for path, _, _ in files]
        results = clean_all(articles, clean)
    for (_, story, boilerplate), result in zip(files, results, strict=True):
        kept = Counter(result.paragraphs if result else [])
        # A story paragraph repeated inside its own story is expected once per copy kept.
        for paragraph in story:
            paragraphs_total += 1
            if kept[paragraph] > 0:
                kept[paragraph] -= 1
            else:
                paragraphs_lost += 1
        for line in boilerplate:
            boilerplate_total += 1
            if kept[line] > 0:
                kept[line] -= 1
                boilerplate_left += 1
    return {
        "articles": len(files),
        "boilerplate_lines": boilerplate_total,
        "boilerplate_left": boilerplate_left,
        "boilerplate_left_share": round(boilerplate_left / boilerplate_total, 4),
        "paragraphs": paragraphs_total,
        "paragraphs_lost": paragraphs_lost,
        "paragraphs_lost_share": round(paragraphs_lost / paragraphs_total, 4),
    }


# --- report --------------------------------------------------------------------------------


def print_report(results: dict) -> None:
    seed = results["seed"]
    print("Seed article")
    if "skipped" in seed:
        print(f"  skipped: {seed['skipped']}")
    else:
        print(f"  ad lines left:          {seed['ad_lines_left']} of {seed['ad_lines']}   (must be 0)")
        print(f"  real paragraphs kept:   {seed['real_paragraphs_kept']} of {seed['real_paragraphs']}   (must be all)")
    bench = results["benchmark"]
    print("\nArticle-extraction benchmark (mean per page; shingles = the benchmark's 4-token shingles)")
    if "skipped" in bench:
        print(f"  skipped: {bench['skipped']}")
    else:
        print(f"  pages: {bench['pages']}, boilerplate groups: {bench['groups']}")
        print(f"  {'':24}{'precision':>10}{'recall':>10}{'F1':>10}")
        for metric in ("shingles", "tokens"):
            for system in ("ours", "trafilatura"):
                row = bench[metric][system]
                print(f"  {metric + ' ' + system:24}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}")
    pages = results["trafilatura_eval"]
    print("\ntrafilatura evaluation pages")
    if "skipped" in pages:
        print(f"  skipped: {pages['skipped']}")
    else:
        print(f"  pages: {pages['pages']}")
        print(f"  {'':24}{'with found':>12}{'without absent':>16}")
        for system in ("ours", "trafilatura"):
            print(f"  {system:24}{pages[system]['with_found']:>12.4f}{pages[system]['without_absent']:>16.4f}")
    synthetic = results["synthetic_folder"]
    print("\nSynthetic folder (3 sites, plain text, shared boilerplate)")
    if "skipped" in synthetic:
        print(f"  skipped: {synthetic['skipped']}")
    else:
        print(
            f"  boilerplate lines left: {synthetic['boilerplate_left']} of {synthetic['boilerplate_lines']}"
            f" ({synthetic['boilerplate_left_share']:.2%}, target <= 1%)"
        )
        print(
            f"  article paragraphs lost: {synthetic['paragraphs_lost']} of {synthetic['paragraphs']}"
            f" ({synthetic['paragraphs_lost_share']:.2%}, target <= 1%)"
        )
    print(f"\n{results['seconds']:.1f} s")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.extraction", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    parser.add_argument("--limit", type=int, default=None, help="at most N pages of each HTML corpus")
    args = parser.parse_args(list(argv) if argv is not None else None)
    settings = load_settings()
    extract, clean = settings.extract, settings.clean
    started = time.monotonic()
    results = {
        "seed": evaluate_seed(clean),
        "benchmark": evaluate_benchmark(extract, clean, args.limit),
        "trafilatura_eval": evaluate_trafilatura_pages(extract, clean, args.limit),
        "synthetic_folder": evaluate_synthetic_folder(clean),
    }
    results["seconds"] = round(time.monotonic() - started, 1)
    print_report(results)
    if args.json:
        print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
