"""`newsetl kibana import`: the data views, saved search and dashboard of config/kibana/ into Kibana.

The .ndjson files hold Kibana saved objects in the format of Kibana's export (see
config/kibana/README.md for the sources followed). They name the alias "articles"; another
configured alias is substituted into the data views at import time. Importing goes through the
documented saved objects API (`POST /api/saved_objects/_import?overwrite=true`), so it is safe
to rerun: the object ids are fixed and a second import overwrites the first.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsetl.config.settings import KIBANA_DIR, KibanaSettings
from newsetl.tasks.errors import ConfigurationError, NewsetlError, TransientError

DEFAULT_ALIAS = "articles"  # the alias the data files are written for
IMPORT_PATH = "/api/saved_objects/_import"
# Kibana resolves references across the whole file, but a reader follows dependencies top-down.
TYPE_ORDER = ("index-pattern", "search", "lens", "visualization", "dashboard")
RECORDS_FIELD = "___records___"  # Lens's pseudo-field of a document count
SEARCH_SOURCE = "kibanaSavedObjectMeta.searchSourceJSON"
SEARCH_INDEX_REF = f"{SEARCH_SOURCE}.index"
LAYER_REF_PREFIX = "indexpattern-datasource-layer-"
KQL_FIELD = re.compile(r"(?<![\w.@\"'])([A-Za-z_@][\w.@]*)\s*:")

SavedObject = dict[str, Any]
FieldUse = tuple[str, str]  # (field, usage): usage is time_field, date_histogram, terms, column, sort, filter or metric


class KibanaUnavailable(TransientError):
    """Kibana did not answer, or answered 5xx, after the retries."""


class KibanaImportError(NewsetlError):
    """Kibana refused the request or some of the saved objects."""


@dataclass(frozen=True)
class ImportResult:
    url: str
    success_count: int
    imported: tuple[str, ...]  # "type/id" of every object Kibana created or overwrote
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        return f"imported {self.success_count} saved objects into {self.url}: {', '.join(self.imported)}"

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "success_count": self.success_count, "imported": list(self.imported),
                "warnings": list(self.warnings)}


def load_saved_objects(directory: Path = KIBANA_DIR) -> list[SavedObject]:
    """Every saved object of the directory's .ndjson files, data views first."""
    objects: list[SavedObject] = []
    paths = sorted(directory.glob("*.ndjson"))
    if not paths:
        raise ConfigurationError(f"no Kibana saved objects (*.ndjson) in {directory}")
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                saved_object = json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigurationError(f"{path.name} line {number} is not JSON: {error}") from None
            if not isinstance(saved_object, dict) or not {"type", "id", "attributes"} <= saved_object.keys():
                raise ConfigurationError(f"{path.name} line {number} is not a saved object (type, id, attributes)")
            objects.append(saved_object)
    return sorted(objects, key=type_rank)


def type_rank(saved_object: Mapping[str, Any]) -> int:
    kind = saved_object["type"]
    return TYPE_ORDER.index(kind) if kind in TYPE_ORDER else len(TYPE_ORDER)


def with_alias(objects: Iterable[Mapping[str, Any]], alias: str) -> list[SavedObject]:
    """Copies whose data views point at `alias` (and `<alias>-quarantine`) instead of "articles"."""
    if not alias or any(character in alias for character in ' ,"*\\/?<>|#'):
        raise ConfigurationError(f"index alias {alias!r} cannot name a Kibana data view")
    renamed = [copy.deepcopy(dict(saved_object)) for saved_object in objects]
    if alias == DEFAULT_ALIAS:
        return renamed
    for saved_object in renamed:
        if saved_object["type"] != "index-pattern":
            continue
        attributes = saved_object["attributes"]
        title = attributes["title"]
        if title != DEFAULT_ALIAS and not title.startswith(f"{DEFAULT_ALIAS}-"):
            continue
        new_title = alias + title[len(DEFAULT_ALIAS):]
        attributes["title"] = new_title
        name = attributes.get("name", "")
        if name.endswith(title):
            attributes["name"] = name[: -len(title)] + new_title
    return renamed


def unresolved_references(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per reference that points at no object of the set, or panel/layer that names no reference."""
    objects = list(objects)
    known = {(saved_object["type"], saved_object["id"]) for saved_object in objects}
    problems = []
    for saved_object in objects:
        where = f"{saved_object['type']}/{saved_object['id']}"
        references = saved_object.get("references", [])
        names = {reference["name"] for reference in references}
        for reference in references:
            if (reference["type"], reference["id"]) not in known:
                problems.append(f"{where} references missing {reference['type']}/{reference['id']}")
        if saved_object["type"] == "search" and SEARCH_INDEX_REF not in names:
            problems.append(f"{where} names no data view ({SEARCH_INDEX_REF})")
        if saved_object["type"] == "lens":
            for layer_id in lens_layers(saved_object["attributes"]):
                if LAYER_REF_PREFIX + layer_id not in names:
                    problems.append(f"{where} layer {layer_id} has no data view reference")
        if saved_object["type"] == "dashboard":
            for panel in dashboard_panels(saved_object["attributes"]):
                panel_where = f"{where} panel {panel.get('panelIndex')}"
                prefix = f"{panel.get('panelIndex')}:"
                if "panelRefName" in panel and prefix + panel["panelRefName"] not in names:
                    problems.append(f"{panel_where} names no reference {panel['panelRefName']}")
                attributes = panel.get("embeddableConfig", {}).get("attributes") or {}
                for layer_id in lens_layers(attributes):
                    if prefix + LAYER_REF_PREFIX + layer_id not in names:
                        problems.append(f"{panel_where} layer {layer_id} has no data view reference")
                for reference in attributes.get("references", []):
                    if (reference["type"], reference["id"]) not in known:
                        problems.append(f"{panel_where} references missing {reference['type']}/{reference['id']}")
    return problems


def referenced_fields(objects: Iterable[Mapping[str, Any]]) -> dict[str, set[FieldUse]]:
    """Data view id -> the (field, usage) pairs the saved objects read from it."""
    uses: dict[str, set[FieldUse]] = {}

    def add(data_view_id: str, field: str, usage: str) -> None:
        uses.setdefault(data_view_id, set()).add((field, usage))

    for saved_object in objects:
        attributes = saved_object["attributes"]
        references = saved_object.get("references", [])
        if saved_object["type"] == "index-pattern":
            if attributes.get("timeFieldName"):
                add(saved_object["id"], attributes["timeFieldName"], "time_field")
        elif saved_object["type"] == "search":
            data_view_id = reference_id(references, SEARCH_INDEX_REF)
            for column in attributes.get("columns", []):
                add(data_view_id, column, "column")
            for sort in attributes.get("sort", []):
                add(data_view_id, sort[0] if isinstance(sort, list) else sort, "sort")
            search_source = json.loads(attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON") or "{}")
            for field in query_fields(search_source.get("query")):
                add(data_view_id, field, "filter")
            for number, row in enumerate(search_source.get("filter", [])):
                filter_view = reference_id(references, f"{SEARCH_SOURCE}.filter[{number}].meta.index")
                if row.get("meta", {}).get("key"):
                    add(filter_view or data_view_id, row["meta"]["key"], "filter")
        elif saved_object["type"] == "lens":
            for data_view_id, field, usage in lens_fields(attributes, references):
                add(data_view_id, field, usage)
        elif saved_object["type"] == "dashboard":
            for panel in dashboard_panels(attributes):
                lens_attributes = panel.get("embeddableConfig", {}).get("attributes")
                if panel.get("type") != "lens" or not lens_attributes:
                    continue  # by-reference panels: their own saved object is read on its own
                prefix = f"{panel.get('panelIndex')}:"
                panel_references = [
                    {**reference, "name": reference["name"][len(prefix):]}
                    for reference in references
                    if reference["name"].startswith(prefix)
                ] or lens_attributes.get("references", [])
                for data_view_id, field, usage in lens_fields(lens_attributes, panel_references):
                    add(data_view_id, field, usage)
    return uses


def lens_layers(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return attributes.get("state", {}).get("datasourceStates", {}).get("formBased", {}).get("layers", {})


def lens_fields(attributes: Mapping[str, Any], references: list[Mapping[str, str]]) -> Iterable[tuple[str, str, str]]:
    """(data view id, field, usage) of each column of a Lens visualization's form-based layers."""
    layer_views = []
    for layer_id, layer in lens_layers(attributes).items():
        data_view_id = reference_id(references, LAYER_REF_PREFIX + layer_id)
        layer_views.append(data_view_id)
        for column in layer.get("columns", {}).values():
            field = column.get("sourceField")
            if not field or field == RECORDS_FIELD:
                continue
            operation = column.get("operationType")
            usage = operation if operation in {"date_histogram", "terms"} else "metric"
            yield data_view_id, field, usage
    for field in query_fields(attributes.get("state", {}).get("query")):
        for data_view_id in layer_views:
            yield data_view_id, field, "filter"


def query_fields(query: Mapping[str, Any] | None) -> list[str]:
    """Field names of the `field:value` clauses of a KQL query."""
    if not query or query.get("language") != "kuery" or not isinstance(query.get("query"), str):
        return []
    return KQL_FIELD.findall(query["query"])


def reference_id(references: Iterable[Mapping[str, str]], name: str) -> str:
    for reference in references:
        if reference["name"] == name:
            return reference["id"]
    return ""


def dashboard_panels(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    panels = json.loads(attributes.get("panelsJSON") or "[]")
    return panels if isinstance(panels, list) else []


def ndjson(objects: Iterable[Mapping[str, Any]]) -> bytes:
    """The export format: one compact JSON object per line."""
    return "".join(json.dumps(saved_object, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
                   for saved_object in objects).encode("utf-8")


def multipart_file(content: bytes, filename: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one `file` part, and its Content-Type header."""
    boundary = f"newsetl-{uuid.uuid4().hex}"
    head = (f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/ndjson\r\n\r\n").encode("ascii")
    return head + content + f"\r\n--{boundary}--\r\n".encode("ascii"), f"multipart/form-data; boundary={boundary}"


def auth_header(kibana: KibanaSettings) -> dict[str, str]:
    if kibana.api_key:
        return {"Authorization": f"ApiKey {kibana.api_key}"}
    if kibana.username:
        token = base64.b64encode(f"{kibana.username}:{kibana.password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {}


def import_saved_objects(
    kibana: KibanaSettings,
    alias: str,
    *,
    directory: Path = KIBANA_DIR,
    attempts: int = 5,
    backoff_seconds: float = 2.0,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportResult:
    """Import the saved objects of `directory` into Kibana, overwriting earlier imports (same ids)."""
    objects = with_alias(load_saved_objects(directory), alias)
    problems = unresolved_references(objects)
    if problems:
        raise ConfigurationError(f"Kibana saved objects in {directory} do not fit together: {'; '.join(problems)}")
    base_url = kibana.url.rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"KIBANA_URL must start with http:// or https://, got {kibana.url!r}")
    body, content_type = multipart_file(ndjson(objects), "newsetl.ndjson")
    headers = {"kbn-xsrf": "true", "Content-Type": content_type, "Accept": "application/json", **auth_header(kibana)}
    request = urllib.request.Request(
        f"{base_url}{IMPORT_PATH}?overwrite=true", data=body, headers=headers, method="POST")
    status, payload = post_with_retries(request, base_url, attempts, backoff_seconds, timeout, sleep)
    return import_result(base_url, status, payload)


def post_with_retries(
    request: urllib.request.Request,
    base_url: str,
    attempts: int,
    backoff_seconds: float,
    timeout: float,
    sleep: Callable[[float], None],
) -> tuple[int, bytes]:
    """Status and body of the response; retried with doubling waits on connection errors and 5xx only."""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            payload = error.read()
            if error.code < 500:
                return error.code, payload
            failure = KibanaUnavailable(
                f"Kibana at {base_url} answered HTTP {error.code} after {attempt} attempts: {kibana_message(payload)}")
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = one_line(str(getattr(error, "reason", error)))
            failure = KibanaUnavailable(f"Kibana at {base_url} unreachable after {attempt} attempts: {reason}")
        if attempt < attempts:
            sleep(backoff_seconds * 2 ** (attempt - 1))
    raise failure


def import_result(base_url: str, status: int, payload: bytes) -> ImportResult:
    """The result of Kibana's answer, or the one-line error it amounts to."""
    if status in (401, 403):
        what = "rejected the credentials" if status == 401 else "denied importing saved objects to this user"
        raise ConfigurationError(
            f"Kibana at {base_url} {what} (HTTP {status}): set KIBANA_API_KEY, or KIBANA_USERNAME and "
            f"KIBANA_PASSWORD of a user who may manage saved objects ({kibana_message(payload)})")
    if status != 200:
        raise KibanaImportError(f"Kibana at {base_url} refused the import (HTTP {status}): {kibana_message(payload)}")
    try:
        answer = json.loads(payload)
    except ValueError:
        raise KibanaImportError(f"Kibana at {base_url} answered the import with non-JSON: {payload[:200]!r}") from None
    if not isinstance(answer, dict) or "success" not in answer:
        raise KibanaImportError(f"Kibana at {base_url} answered the import without a result: {str(answer)[:200]}")
    if not answer["success"]:
        errors = answer.get("errors") or []
        raise KibanaImportError(
            f"Kibana at {base_url} rejected {len(errors)} saved objects "
            f"({answer.get('successCount', 0)} imported): {'; '.join(describe_failure(error) for error in errors)}")
    imported = tuple(f"{result['type']}/{result['id']}" for result in answer.get("successResults") or [])
    warnings = tuple(str(warning.get("message", warning)) for warning in answer.get("warnings") or [])
    return ImportResult(base_url, int(answer.get("successCount", len(imported))), imported, warnings)


def describe_failure(failure: Mapping[str, Any]) -> str:
    """`type/id (error type: detail)` of one entry of the import's `errors`."""
    error = failure.get("error") or {}
    detail = error.get("message", "")
    if error.get("type") == "missing_references":
        detail = "missing " + ", ".join(f"{ref.get('type')}/{ref.get('id')}" for ref in error.get("references", []))
    kind = error.get("type", "unknown")
    return f"{failure.get('type')}/{failure.get('id')} ({kind}{': ' + one_line(detail) if detail else ''})"


def kibana_message(payload: bytes) -> str:
    """Kibana's `message` from an error body, else the body's start."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return one_line(payload[:200].decode("utf-8", "replace")) or "empty answer"
    if isinstance(answer, dict) and answer.get("message"):
        return one_line(str(answer["message"]))
    return one_line(str(answer)[:200])


def one_line(text: str) -> str:
    return " ".join(text.split())
