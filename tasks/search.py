"""Full-text search over the alias: the query syntax and body (pure), and result shaping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from elasticsearch import Elasticsearch

from newsetl.config.settings import ElasticsearchSettings
from newsetl.tasks.entities import Known, fold, read_known_names, surname
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.es.client import with_retries
from newsetl.tasks.es.documents import LANGUAGE_FIELDS

FACET_SIZE = 10
FACETS = ("persons", "organizations", "locations")
# Every analysed form of the text: english (the default), exact words, and the article's own language.
TEXT_FIELDS = (
    "title^3", "title.exact^2", "body", "body.exact",
    *(
        f"{field}_{key}{boost}"
        for key in dict.fromkeys(LANGUAGE_FIELDS.values())
        for field, boost in (("title", "^3"), ("body", ""))
    ),
)  # fmt: skip
CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# A quoted phrase (maybe unclosed, maybe after -), or a run of other characters.
TOKEN = re.compile(r'(-?)"([^"]*)("?)|(\S+)')
SOURCE_FIELDS = [
    "id", "title", "url", "site_name", "author", "published_at", "published_at_source", "language", "persons",
    "organizations", "locations", "sources.path", "cluster_id", "is_canonical",
]  # fmt: skip


class QuerySyntaxError(NewsetlError):
    """A query the search syntax does not allow; its message is one line for the user."""


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """Every clause must match (a clause: one term, or terms joined by OR); no excluded term may."""

    clauses: tuple[tuple[Term, ...], ...] = ()
    excluded: tuple[Term, ...] = ()


def parse_query(query: str) -> ParsedQuery:
    """Words ANDed, "quoted phrases", OR between two alternatives (as in a web search), -word or -"phrase" left out.

    Parsed here rather than by Elasticsearch's query_string, whose Lucene syntax (field:value,
    wildcards, /regex/, ~fuzzy) makes ordinary text fail or mean something else ("C++", "covid:").
    """
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for match in TOKEN.finditer(query):
        minus, quoted, closed, word = match.groups()
        if word is None:
            if not closed:
                raise QuerySyntaxError(f'unbalanced quote in {query!r}: close the phrase with "')
            if not quoted.split():
                raise QuerySyntaxError(f"empty phrase in {query!r}")
            term, negated = Term(" ".join(quoted.split()), phrase=True), bool(minus)
        elif '"' in word:
            raise QuerySyntaxError(f'unbalanced quote in {query!r}: close the phrase with "')
        elif word == "OR":
            if not clauses or pending_or:
                raise QuerySyntaxError(f"OR needs a word or phrase on each side in {query!r}")
            pending_or = True
            continue
        elif word == "AND":
            continue  # words are ANDed anyway
        elif word.startswith("-"):
            if not word.strip("-"):
                raise QuerySyntaxError(f"'-' needs a word right after it (as in -word) in {query!r}")
            term, negated = Term(word[1:]), True
        else:
            term, negated = Term(word), False
        if negated:
            if pending_or:
                raise QuerySyntaxError(f"an excluded word cannot be an OR alternative in {query!r}")
            excluded.append(term)
        elif pending_or:
            clauses[-1].append(term)
            pending_or = False
        else:
            clauses.append([term])
    if pending_or:
        raise QuerySyntaxError(f"OR needs a word or phrase on each side in {query!r}")
    return ParsedQuery(tuple(tuple(clause) for clause in clauses), tuple(excluded))


@dataclass(frozen=True)
class SearchRequest:
    query: str
    persons: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    date_from: str | None = None  # ISO date, inclusive, on published_at
    date_to: str | None = None
    limit: int = 10
    include_duplicates: bool = False  # near-duplicates too, not only canonical articles


@dataclass
class SearchHit:
    id: str
    score: float
    title: str  # plain text
    title_highlight: str  # the title with <em> around what matched ("" when nothing did)
    url: str | None
    site_name: str | None
    author: str | None
    published_at: str | None
    published_at_source: str | None  # where the date came from; "file_mtime": the file's time, not the article's
    language: str | None
    snippets: list[str]  # body highlights, with <em>
    persons: list[str]
    organizations: list[str]
    locations: list[str]
    sources: list[str]
    cluster_id: str
    is_canonical: bool


@dataclass
class SearchResult:
    total: int
    hits: list[SearchHit] = field(default_factory=list)
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def term_query(term: Term) -> dict[str, Any]:
    """A word must match in some field (each of its tokens: "covid-19"); a phrase word for word; CJK words too."""
    if term.phrase or CJK.search(term.text):
        return {"multi_match": {"query": term.text, "fields": list(TEXT_FIELDS), "type": "phrase"}}
    return {"multi_match": {"query": term.text, "fields": list(TEXT_FIELDS), "type": "best_fields", "operator": "and"}}


def text_query(parsed: ParsedQuery) -> dict[str, Any]:
    must = [
        term_query(clause[0])
        if len(clause) == 1
        else {"bool": {"should": [term_query(t) for t in clause], "minimum_should_match": 1}}
        for clause in parsed.clauses
    ]
    return {"bool": {"must": must or [{"match_all": {}}], "must_not": [term_query(term) for term in parsed.excluded]}}


@cache
def _known_names() -> Mapping[str, Known]:
    return read_known_names()


def entity_filter(group: str, value: str, known: Mapping[str, Known] | None = None) -> dict[str, Any]:
    """Articles naming the entity: its canonical name or any alias, surname alone included; case and accents ignored.

    A leading "the" and hyphens are forgiven ("the New York Times", "ocasio cortez"); a person's
    full name also finds the articles that only ever name them by surname.
    The keyword fields fold case and accents themselves (normalizer `folded`); the knowledge file
    turns an alias the article never used ("America") into the canonical name ("United States").
    """
    known = _known_names() if known is None else known
    value = " ".join(value.split())
    bare = re.sub(r"^the\s+", "", value, flags=re.IGNORECASE)  # `--org "the new york times"`
    values = list(dict.fromkeys([value, bare, value.replace("-", " "), bare.replace("-", " ")]))
    if (canonical := known.get(fold(value))) is not None:
        values.append(canonical.name)
    should: list[dict[str, Any]] = [{"terms": {f"{group}.folded": values}}, {"terms": {f"aliases.{group}": values}}]
    if group == "persons" and " " in bare:
        # An article that names the person by surname alone ("Biden" all through) has "Biden" as its
        # person: `--person "joe biden"` finds it too. Not a surname that stands for another full
        # name in its article ("Ivanka Trump": her "Trump" is an alias, not a person of its own).
        should.append({"term": {f"{group}.folded": surname(bare)}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def search_body(request: SearchRequest, known: Mapping[str, Known] | None = None) -> dict[str, Any]:
    """The _search body: the query, entity and date filters, highlights, facets by count then most recent article."""
    filters: list[dict[str, Any]] = []
    for group, values in (
        ("persons", request.persons),
        ("organizations", request.organizations),
        ("locations", request.locations),
    ):
        filters += [entity_filter(group, value, known) for value in values]
    if request.date_from or request.date_to:
        bounds = {key: value for key, value in (("gte", request.date_from), ("lte", request.date_to)) if value}
        filters.append({"range": {"published_at": bounds}})
    if not request.include_duplicates:
        filters.append({"term": {"is_canonical": True}})
    query = text_query(parse_query(request.query))
    query["bool"]["filter"] = filters
    return {
        "query": query,
        "size": request.limit,
        "track_total_hits": True,
        "_source": SOURCE_FIELDS,
        "highlight": {
            # NOTE: terms matched in another field (the article's language, .exact) are highlighted too.
            "require_field_match": False,
            "fields": {"body": {"fragment_size": 160, "number_of_fragments": 2}, "title": {"number_of_fragments": 0}},
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
        },
        "aggs": {
            name: {
                "terms": {"field": name, "size": FACET_SIZE, "order": [{"_count": "desc"}, {"latest": "desc"}]},
                "aggs": {"latest": {"max": {"field": "published_at"}}},
            }
            for name in FACETS
        },
    }


def shape_result(response: Mapping[str, Any]) -> SearchResult:
    hits = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        highlight = hit.get("highlight", {})
        hits.append(
            SearchHit(
                id=source["id"],
                score=hit.get("_score") or 0.0,
                title=source.get("title", ""),
                title_highlight=(highlight.get("title") or [""])[0],
                url=source.get("url"),
                site_name=source.get("site_name"),
                author=source.get("author"),
                published_at=source.get("published_at"),
                published_at_source=source.get("published_at_source"),
                language=source.get("language"),
                snippets=highlight.get("body", []),
                persons=source.get("persons", []),
                organizations=source.get("organizations", []),
                locations=source.get("locations", []),
                sources=[s["path"] for s in source.get("sources", [])],
                cluster_id=source.get("cluster_id", ""),
                is_canonical=bool(source.get("is_canonical", True)),
            )
        )
    facets = {
        name: [(bucket["key"], bucket["doc_count"]) for bucket in agg["buckets"]]
        for name, agg in response.get("aggregations", {}).items()
    }
    return SearchResult(total=response["hits"]["total"]["value"], hits=hits, facets=facets)


def search_articles(client: Elasticsearch, es: ElasticsearchSettings, request: SearchRequest) -> SearchResult:
    body = search_body(request)
    response = with_retries(lambda: client.search(index=es.index, **body), es, "search")
    return shape_result(response.body)
