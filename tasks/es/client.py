"""Elasticsearch plumbing: the client, retries of transient failures, paged reads and bulk writes."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
from elasticsearch import ApiError, ConnectionTimeout, Elasticsearch, TransportError, helpers
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch.serializer import JsonSerializer, OrjsonSerializer

from newsetl.config.settings import ElasticsearchSettings
from newsetl.tasks.errors import ConfigurationError, ElasticsearchUnavailable, NewsetlError, TransientError
from newsetl.tasks.records import WriteFailure

TRANSIENT_STATUS = {429, 502, 503, 504}
# Errors of a document read that say the request is wrong, not the cluster busy: a retry gives the same.
REQUEST_ERRORS = frozenset(
    {"illegal_argument_exception", "index_not_found_exception", "action_request_validation_exception"}
)

PAGE_SIZE = 5000

log = logging.getLogger("newsetl.index")  # the logger name users filter on (PREFECT_LOGGING_EXTRA_LOGGERS)

T = TypeVar("T")


class DocumentSerializer(OrjsonSerializer):
    """The client's orjson serializer; the standard library's for what orjson refuses.

    NOTE: the client's default (json) took 62 µs per article document, orjson 5 µs: a third of
    the bulk writes' CPU on the driver. orjson refuses lone surrogates, the form of undecodable
    bytes in file names (tasks/output.py): those documents keep the standard library's encoding,
    and so do answers holding them again.
    """

    def json_dumps(self, data: Any) -> bytes:
        try:
            return super().json_dumps(data)
        except orjson.JSONEncodeError:
            return JsonSerializer.json_dumps(self, data)

    def json_loads(self, data: bytes) -> Any:
        try:
            return super().json_loads(data)
        except orjson.JSONDecodeError:
            return JsonSerializer.json_loads(self, data)


def connect(es: ElasticsearchSettings) -> Elasticsearch:
    """A client for the configured cluster; credentials only from settings (environment)."""
    options: dict[str, Any] = {
        "serializer": DocumentSerializer(),
        "request_timeout": es.request_timeout,
        # Our own retry loop (with backoff) handles outages; the client's is immediate.
        "max_retries": 0,
        "retry_on_timeout": False,
    }
    if es.api_key:
        options["api_key"] = es.api_key
    elif es.username:
        options["basic_auth"] = (es.username, es.password)
    if es.url.startswith("https"):
        options["verify_certs"] = es.verify_certs
        if es.ca_certs:
            if not Path(es.ca_certs).is_file():
                raise ConfigurationError(f"NEWSETL_ES_CA_CERTS: no such file {es.ca_certs}")
            options["ca_certs"] = es.ca_certs
    return Elasticsearch(es.url, **options)


class IncompleteResponse(TransientError):
    """Elasticsearch answered without some shards or documents (e.g. while a restarted node recovers)."""


def complete(response: T, what: str) -> T:
    """The response, unless some shards or documents are missing from it: a partial answer would
    make existing articles look new and clusters look smaller."""
    body = getattr(response, "body", response)
    shards = body.get("_shards", {})
    if body.get("timed_out") or shards.get("failed"):
        raise IncompleteResponse(f"{what}: {shards.get('failed', 0)} of {shards.get('total', '?')} shards failed")
    errors = [doc["error"] for doc in body.get("docs", ()) if "error" in doc]
    if errors:
        first = errors[0].get("type", "") if isinstance(errors[0], dict) else str(errors[0])
        if first in REQUEST_ERRORS:
            reason = errors[0].get("reason", "") if isinstance(errors[0], dict) else ""
            raise ConfigurationError(f"Elasticsearch refused {what}: {first}: {reason}"[:300])
        raise IncompleteResponse(f"{what}: {len(errors)} documents could not be read ({first})")
    return response


def is_transient(error: Exception) -> bool:
    if isinstance(error, IncompleteResponse):
        return True
    if isinstance(error, (EsConnectionError, ConnectionTimeout)):
        return True
    if isinstance(error, ApiError):
        return error.meta.status in TRANSIENT_STATUS
    return isinstance(error, TransportError)


def with_retries(
    call: Callable[[], T], es: ElasticsearchSettings, what: str, retried: Callable[[Exception], bool] = lambda _: True
) -> T:
    """Run one Elasticsearch call, retrying connection errors, 429 and 5xx with exponential backoff.

    `retried`: which transient errors this loop retries; the others end it at once (the call
    retried them itself).
    """
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:  # classified right below; the rest is raised again
            refused = certificate_error(error)
            if refused is not None:
                # NOTE: the client reports a certificate it does not trust as a connection error;
                # no retry can make it trusted.
                raise ConfigurationError(
                    f"TLS to Elasticsearch at {es.url} failed ({what}): {refused} "
                    "(set NEWSETL_ES_CA_CERTS to the cluster's CA certificate)"
                ) from error
            if not is_transient(error):
                if isinstance(error, ApiError) and error.meta.status in {401, 403}:
                    raise ConfigurationError(
                        f"Elasticsearch refused {what}: {_reason(error)} (check credentials)"
                    ) from error
                raise
            if attempt >= es.max_retries or not retried(error):
                raise ElasticsearchUnavailable(
                    f"Elasticsearch at {es.url} unavailable ({what}) after {attempt + 1} attempts: {_reason(error)}"
                ) from error
            delay = es.retry_backoff_seconds * (2**attempt)
            log.warning(
                "Elasticsearch %s failed (%s); retry %d/%d in %.1fs",
                what,
                _reason(error),
                attempt + 1,
                es.max_retries,
                delay,
            )
            time.sleep(delay)
            attempt += 1


def certificate_error(error: BaseException) -> str | None:
    """Why the server's TLS certificate was not trusted, when that is what this error is."""
    cause: BaseException | None = error
    for _ in range(8):  # a chain of causes can loop back on itself
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message or cause.reason}"
        cause = cause.__cause__ or cause.__context__
    return None


def _reason(error: Exception) -> str:
    if isinstance(error, ApiError):
        info = error.info if isinstance(error.info, dict) else {}
        cause = info.get("error", {})
        if isinstance(cause, dict):
            return f"{error.meta.status} {cause.get('type', '')}: {cause.get('reason', '')}".strip()
        return f"{error.meta.status} {error.message}"
    return f"{type(error).__name__}: {str(error)[:200]}"


def check_reachable(es: ElasticsearchSettings) -> None:
    """Raise a one-line error when Elasticsearch does not answer (after retries)."""
    client = connect(es)
    try:
        with_retries(lambda: client.cluster.health(), es, "cluster health")
    except NewsetlError:
        raise
    finally:
        client.close()


def scan_documents(
    client: Elasticsearch,
    es: ElasticsearchSettings,
    index: str,
    query: dict[str, Any],
    fields: list[str],
    sort_field: str,
) -> Iterator[dict[str, Any]]:
    """Every matching document's _source, paged with search_after (no scroll context to leak)."""
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"index": index, "query": query, "size": PAGE_SIZE, "sort": [{sort_field: "asc"}]}
        if fields:
            kwargs["source_includes"] = fields
        if after is not None:
            kwargs["search_after"] = after
        response = with_retries(
            lambda kwargs=kwargs: complete(client.search(**kwargs), f"read {index}"), es, f"read {index}"
        )
        hits = response["hits"]["hits"]
        for hit in hits:
            yield hit["_source"]
        if len(hits) < PAGE_SIZE:
            return
        after = hits[-1]["sort"]


def bulk_write(client: Elasticsearch, es: ElasticsearchSettings, actions: list[dict[str, Any]]) -> list[WriteFailure]:
    """Send bulk actions in chunks; the items Elasticsearch refused (a 404 of a delete or update is no failure)."""
    if not actions:
        return []

    def send() -> list[WriteFailure]:
        failures = []
        for _, item in helpers.streaming_bulk(
            client,
            actions,
            chunk_size=es.bulk_chunk_size,
            max_chunk_bytes=es.bulk_max_bytes,
            raise_on_error=False,
            raise_on_exception=True,
            max_retries=es.max_retries,
            initial_backoff=es.retry_backoff_seconds,
            yield_ok=False,
        ):
            operation, result = next(iter(item.items()))
            status = int(result.get("status", 0))
            if operation == "delete" and status == 404:
                continue  # already gone: what we wanted
            if operation == "update" and status == 404:
                continue  # deleted meanwhile; nothing to update
            error = result.get("error", {})
            error_type = str(error.get("type", "")) if isinstance(error, dict) else ""
            reason = f"{error_type}: {error.get('reason', '')}" if isinstance(error, dict) else str(error)
            failures.append(WriteFailure(result.get("_id", ""), status, f"{status} {reason}"[:500], error_type))
        return failures

    # NOTE: streaming_bulk retries 429 itself (refused items and whole requests, with backoff), so the
    # outer loop retries only the other transient failures (connection lost, 502-504): no failure is
    # retried by both loops.
    return with_retries(send, es, "bulk write", retried=lambda error: not _too_many_requests(error))


def _too_many_requests(error: Exception) -> bool:
    return isinstance(error, ApiError) and error.meta.status == 429
