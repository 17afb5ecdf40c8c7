"""Document readers measured: PDF libraries compared on laid-out articles, every reader on the shared corpora.

`.venv/bin/python -m evals.formats` (the PDF comparison needs `pip install pypdf pdfminer.six`, which
newsetl does not depend on; without them only newsetl's reader is measured).

1. PDF reading order and speed: the scrapinghub benchmark's ground-truth article bodies (by path in
   ../shared/corpora) laid out as PDFs by newsetl.testdocs (one and two columns, a running header,
   page numbers, words hyphenated at line ends, two columns written row by row across the page, the
   hardest order for a reader). Quality: difflib ratio of the extracted words to the true words in
   order (1.0 = every word, in order); "furniture left": header and page-number lines in the text.
2. Every file of fscrawler-docs and iptc-newsml-g2 through the extraction step: what it becomes and
   the milliseconds it took.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from newsetl.config.settings import load_settings
from newsetl.tasks.discover import discover_files
from newsetl.tasks.extract import extract_file
from newsetl.tasks.readers.base import ExtractionResult
from newsetl.tasks.readers.pdf import pdf_documents
from newsetl.testdocs import article_pdf

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
HEADER = "THE EXAMPLE TIMES  Tuesday 3 January 2023"


def laid_out_articles(corpora: Path, count: int) -> list[tuple[int, list[str], bytes, int]]:
    """(columns, true paragraphs, PDF, pages) of the first `count` ground-truth bodies of 500+ characters."""
    import pypdfium2 as pdfium

    truth = json.loads((corpora / "scrapinghub-article-extraction-benchmark" / "ground-truth.json").read_text())
    articles = []
    for number, (_, item) in enumerate(sorted(truth.items())):
        # NOTE: the PDF font is WinAnsi; characters outside it are "?" in the truth too.
        paragraphs = [
            p.strip().encode("cp1252", "replace").decode("cp1252") for p in item["articleBody"].split("\n") if p.strip()
        ]
        if sum(map(len, paragraphs)) < 500:
            continue
        columns = 1 + number % 2
        data = article_pdf(f"Story {number}", paragraphs, columns=columns, header=HEADER, lines_per_page=46)
        articles.append((columns, paragraphs, data, len(pdfium.PdfDocument(data))))
        if len(articles) == count:
            break
    return articles


def _newsetl(data: bytes) -> str:
    documents = pdf_documents(data)
    return "\n".join(documents[0].paragraphs) if isinstance(documents, list) else ""


def _pdfium_raw(data: bytes) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    return "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document)))


def _pypdf(data: bytes) -> str:
    import pypdf

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def _pdfminer(data: bytes) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data))


CANDIDATES: dict[str, Callable[[bytes], str]] = {
    "newsetl (pypdfium2 + reading order)": _newsetl,
    "pypdfium2 get_text_range": _pdfium_raw,
    "pypdf extract_text": _pypdf,
    "pdfminer.six extract_text": _pdfminer,
}


def compare_pdf_readers(corpora: Path, count: int) -> list[dict[str, object]]:
    articles = laid_out_articles(corpora, count)
    rows = []
    for name, read in CANDIDATES.items():
        try:
            read(articles[0][2])  # warm-up: imports, PDFium's start
        except ImportError:
            continue
        per_page, ratio, furniture = [], {1: [], 2: []}, 0
        for columns, paragraphs, data, pages in articles:
            started = time.perf_counter()
            text = read(data)
            per_page.append((time.perf_counter() - started) * 1000 / pages)
            truth = re.findall(r"\w+", " ".join(paragraphs).lower())
            words = [w for w in re.findall(r"\w+", text.lower())]
            ratio[columns].append(difflib.SequenceMatcher(None, truth, words, autojunk=False).ratio())
            furniture += text.count("THE EXAMPLE TIMES") + len(re.findall(r"(?m)^\s*Page \d+\s*$", text))
        rows.append(
            {
                "reader": name,
                "ms_per_page_median": round(statistics.median(per_page), 1),
                "order_1_column": round(statistics.mean(ratio[1]), 3),
                "order_2_columns": round(statistics.mean(ratio[2]), 3),
                "furniture_lines_left": furniture,
                "documents": len(articles),
            }
        )
    return rows


def corpus_outcomes(corpora: Path) -> list[dict[str, object]]:
    settings = load_settings()
    rows = []
    for name in ("fscrawler-docs", "iptc-newsml-g2"):
        found = discover_files([corpora / name / "files"], settings.discover)
        for path, kind in found.skipped:
            rows.append({"file": f"{name}/{Path(path).name}", "outcome": f"skipped ({kind})", "ms": 0.0})
        for source in found.files:
            started = time.perf_counter()
            outcome = extract_file(source, settings.extract)
            ms = round((time.perf_counter() - started) * 1000, 1)
            if isinstance(outcome, ExtractionResult):
                first = outcome.articles[0]
                text = f"article ({len(outcome.articles)}): {first.title!r}, {sum(map(len, first.paragraphs))} chars"
            else:
                text = f"quarantined {outcome.reason}: {outcome.detail[:70]}"
            rows.append({"file": f"{name}/{Path(source.path).name}", "outcome": text, "ms": ms})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=40, help="laid-out PDF articles in the comparison")
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    args = parser.parse_args()
    print("PDF readers on laid-out articles (word order vs the truth, 1.0 = all words in order)")
    for row in compare_pdf_readers(args.corpora, args.documents):
        print(
            f"  {row['reader']:38} {row['ms_per_page_median']:7.1f} ms/page  order 1 col {row['order_1_column']:.3f}"
            f"  2 cols {row['order_2_columns']:.3f}  furniture left {row['furniture_lines_left']:3d}"
            f"  ({row['documents']} docs)"
        )
    print("\nShared corpora through the extraction step")
    for row in corpus_outcomes(args.corpora):
        print(f"  {row['file'][:60]:60} {row['ms']:7.1f} ms  {row['outcome']}")


if __name__ == "__main__":
    main()
