"""Full-text search over the alias: query building (pure) and result shaping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

from newsetl.config.settings import ElasticsearchSettings
from newsetl.tasks.es.client import with_retries

FACET_SIZE = 10


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
    title: str
    published_at: str | None
    snippets: list[str]
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


def search_body(request: SearchRequest) -> dict[str, Any]:
    """The _search body: english-analysed match on title and body, filters, highlights, entity counts."""
    must: list[dict[str, Any]] = []
    if request.query.strip():
        must.append(
            {
                "multi_match": {
                    "query": request.query,
                    "fields": ["title^3", "title.exact^2", "body", "body.exact"],
                    "type": "most_fields",
                }
            }
        )
    else:
        must.append({"match_all": {}})
    filters: list[dict[str, Any]] = []
    for name, values in (
        ("persons", request.persons),
        ("organizations", request.organizations),
        ("locations", request.locations),
    ):
        filters += [{"term": {name: value}} for value in values]
    if request.date_from or request.date_to:
        bounds = {key: value for key, value in (("gte", request.date_from), ("lte", request.date_to)) if value}
        filters.append({"range": {"published_at": bounds}})
    if not request.include_duplicates:
        filters.append({"term": {"is_canonical": True}})
    return {
        "query": {"bool": {"must": must, "filter": filters}},
        "size": request.limit,
        "track_total_hits": True,
        "_source": [
            "id",
            "title",
            "published_at",
            "persons",
            "organizations",
            "locations",
            "sources.path",
            "cluster_id",
            "is_canonical",
        ],
        "highlight": {
            "fields": {"body": {"fragment_size": 160, "number_of_fragments": 2}, "title": {"number_of_fragments": 0}},
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
        },
        "aggs": {
            name: {"terms": {"field": name, "size": FACET_SIZE}} for name in ("persons", "organizations", "locations")
        },
    }


def shape_result(response: dict[str, Any]) -> SearchResult:
    hits = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        highlight = hit.get("highlight", {})
        hits.append(
            SearchHit(
                id=source["id"],
                score=hit.get("_score") or 0.0,
                title=(highlight.get("title") or [source.get("title", "")])[0],
                published_at=source.get("published_at"),
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
