"""Index administration: the template, the versioned indices behind the alias, new versions, the switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from newsetl.config.settings import CONFIG_DIR, INDEX_TEMPLATE_FILE, ElasticsearchSettings
from newsetl.tasks.errors import ConfigurationError, NewsetlError
from newsetl.tasks.es.client import bulk_write, scan_documents, with_retries

SOURCES_INDEX_FILE = CONFIG_DIR / "sources_index.json"

QUARANTINE_INDEX_FILE = CONFIG_DIR / "quarantine_index.json"


def load_json(path: Path) -> dict[str, Any]:
    body = json.loads(path.read_text(encoding="utf-8"))
    body.pop("_comment", None)
    return body


def index_template(es: ElasticsearchSettings) -> dict[str, Any]:
    """The article index template of config/index_template.json for this alias."""
    template = load_json(INDEX_TEMPLATE_FILE)
    template["index_patterns"] = [f"{es.index}-v*"]
    return template


def ensure_indices(client: Elasticsearch, es: ElasticsearchSettings) -> str:
    """Template, versioned article index behind the alias, sources and quarantine indices; safe to rerun.

    Returns the index the alias points to.
    """
    template = index_template(es)
    with_retries(lambda: client.indices.put_index_template(name=es.index, **template), es, "put index template")
    current = alias_target(client, es)
    if current is None:
        current = es.versioned_index()
        if not create_index(client, es, current, {"aliases": {es.index: {}}}):
            # Another run created it first, or one died before adding the alias: adding it again is a no-op.
            with_retries(lambda: client.indices.put_alias(index=current, name=es.index), es, "put alias")
    # Fields added to the template since the index was made (new formats' metadata, text_hash, language
    # fields) are added to it too: its strict mapping would refuse every document that has them. Adding a
    # field is allowed and idempotent.
    properties = template["template"]["mappings"]["properties"]
    with_retries(lambda: client.indices.put_mapping(index=current, properties=properties), es, "update mapping")
    for name, path in ((es.sources_index, SOURCES_INDEX_FILE), (es.quarantine_index, QUARANTINE_INDEX_FILE)):
        if not with_retries(lambda name=name: client.indices.exists(index=name), es, "check index").body:
            create_index(client, es, name, load_json(path))
    return current


def create_index(client: Elasticsearch, es: ElasticsearchSettings, name: str, body: dict[str, Any]) -> bool:
    """Create an index; False when it exists already (two first runs may race to create it)."""
    try:
        with_retries(lambda: client.indices.create(index=name, **body), es, f"create {name}")
    except ApiError as error:
        cause = error.info.get("error") if isinstance(error.info, dict) else None
        if (
            error.meta.status == 400
            and isinstance(cause, dict)
            and cause.get("type") == "resource_already_exists_exception"
        ):
            return False
        raise
    return True


def alias_target(client: Elasticsearch, es: ElasticsearchSettings) -> str | None:
    """The index behind the alias, or None; a concrete index of the alias's name is an error."""
    if with_retries(lambda: client.indices.exists_alias(name=es.index), es, "check alias").body:
        targets = sorted(with_retries(lambda: client.indices.get_alias(name=es.index), es, "get alias").body)
        if len(targets) > 1:
            # Writes through an alias of several indices fail (no write index); say so instead.
            raise ConfigurationError(
                f"alias '{es.index}' points at {len(targets)} indices ({', '.join(targets[:4])}); newsetl needs it on "
                "exactly one: remove the others from it (POST _aliases) or set NEWSETL_INDEX to another alias"
            )
        return targets[-1]
    if with_retries(lambda: client.indices.exists(index=es.index), es, "check index").body:
        raise ConfigurationError(f"'{es.index}' is an index, not an alias; newsetl needs the name free for its alias")
    return None


def index_version(name: str, alias: str) -> int:
    """3 for "articles-v3"."""
    suffix = name[len(alias) + 2 :] if name.startswith(f"{alias}-v") else ""
    return int(suffix) if suffix.isdigit() else 0


def create_next_version(client: Elasticsearch, es: ElasticsearchSettings) -> tuple[str | None, str]:
    """(current index behind the alias or None, a new empty index of the next version)."""
    with_retries(
        lambda: client.indices.put_index_template(name=es.index, **index_template(es)), es, "put index template"
    )
    current = alias_target(client, es)
    existing = with_retries(
        lambda: client.indices.get(index=f"{es.index}-v*", allow_no_indices=True), es, "list versions"
    )
    version = max([index_version(name, es.index) for name in existing.body] + [0]) + 1
    new = f"{es.index}-v{version}"
    with_retries(lambda: client.indices.create(index=new), es, f"create {new}")
    return current, new


def copy_documents(client: Elasticsearch, es: ElasticsearchSettings, source: str, target: str) -> int:
    """Copy every article client-side (search_after + bulk; the server's _reindex is not needed)."""
    copied = 0
    batch: list[dict[str, Any]] = []
    for document in scan_documents(client, es, source, {"match_all": {}}, [], sort_field="id"):
        batch.append({"_op_type": "index", "_index": target, "_id": document["id"], "_source": document})
        if len(batch) >= es.bulk_chunk_size:
            copied += _bulk_strict(client, es, batch)
            batch = []
    copied += _bulk_strict(client, es, batch)
    with_retries(lambda: client.indices.refresh(index=target), es, "refresh")
    return copied


def _bulk_strict(client: Elasticsearch, es: ElasticsearchSettings, actions: list[dict[str, Any]]) -> int:
    failures = bulk_write(client, es, actions)
    if failures:
        raise NewsetlError(f"copying to the new index failed for {len(failures)} documents, e.g. {failures[0].reason}")
    return len(actions)


def switch_alias(client: Elasticsearch, es: ElasticsearchSettings, old: str | None, new: str) -> None:
    """Point the alias at the new index in one atomic call: searches never see a gap."""
    actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": es.index}}]
    if old:
        actions.insert(0, {"remove": {"index": old, "alias": es.index}})
    with_retries(lambda: client.indices.update_aliases(actions=actions), es, "switch alias")
