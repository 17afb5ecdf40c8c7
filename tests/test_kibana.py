"""Kibana saved objects: they parse, fit together, read only mapped fields, and import as Kibana's API wants."""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from newsetl import kibana
from newsetl.config.settings import KIBANA_DIR, KibanaSettings
from newsetl.tasks.errors import ConfigurationError, NewsetlError, TransientError

CONFIG = Path(__file__).resolve().parents[1] / "config"
ARTICLES_VIEW = "newsetl-articles"
QUARANTINE_VIEW = "newsetl-quarantine"
EXPECTED_OBJECTS = {
    ("index-pattern", ARTICLES_VIEW),
    ("index-pattern", QUARANTINE_VIEW),
    ("search", "newsetl-canonical-articles"),
    ("dashboard", "newsetl-overview"),
}
NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
# What a panel needs of a field's mapping type; None: any mapped field will do.
USABLE_TYPES: dict[str, set[str] | None] = {
    "terms": {"keyword", "boolean"},
    "date_histogram": {"date", "date_nanos"},
    "time_field": {"date", "date_nanos"},
    "sort": {"keyword", "boolean", "date", "date_nanos"} | NUMERIC,
    "metric": NUMERIC,
    "filter": None,
    "column": None,
}
AGGREGATING_USES = {"terms", "date_histogram", "sort", "metric"}


def mapping_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted field path -> its mapping, through object `properties` and multi-field `fields`."""
    fields: dict[str, dict[str, Any]] = {}
    for name, mapping in properties.items():
        path = f"{prefix}{name}"
        if "properties" in mapping:
            fields.update(mapping_fields(mapping["properties"], f"{path}."))
            continue
        fields[path] = mapping
        for sub_name, sub_mapping in mapping.get("fields", {}).items():
            fields[f"{path}.{sub_name}"] = sub_mapping
    return fields


def data_view_fields() -> dict[str, dict[str, dict[str, Any]]]:
    """Each data view's fields, from the mapping of the index it reads."""
    template = json.loads((CONFIG / "index_template.json").read_text())
    quarantine = json.loads((CONFIG / "quarantine_index.json").read_text())
    return {
        ARTICLES_VIEW: mapping_fields(template["template"]["mappings"]["properties"]),
        QUARANTINE_VIEW: mapping_fields(quarantine["mappings"]["properties"]),
    }


def field_problems(uses: dict[str, set[tuple[str, str]]], fields: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    problems = []
    for data_view_id, field_uses in sorted(uses.items()):
        if data_view_id not in fields:
            problems.append(f"unknown data view {data_view_id!r}")
            continue
        for name, usage in sorted(field_uses):
            mapping = fields[data_view_id].get(name)
            if mapping is None:
                problems.append(f"{data_view_id}: {name} ({usage}) is not in the mapping")
                continue
            allowed = USABLE_TYPES[usage]
            if allowed is not None and mapping.get("type") not in allowed:
                problems.append(
                    f"{data_view_id}: {name} is {mapping.get('type')}, {usage} needs one of {sorted(allowed)}"
                )
            if usage in AGGREGATING_USES and mapping.get("doc_values") is False:
                problems.append(f"{data_view_id}: {name} has no doc values for {usage}")
            if usage == "filter" and mapping.get("index") is False:
                problems.append(f"{data_view_id}: {name} is not indexed, cannot filter")
    return problems


@pytest.fixture(scope="module")
def saved_objects() -> list[dict[str, Any]]:
    return kibana.load_saved_objects()


def objects_by_type(objects, kind):
    return [saved_object for saved_object in objects if saved_object["type"] == kind]


# --- the data files -------------------------------------------------------------------------


def test_each_ndjson_line_is_one_saved_object_with_type_id_attributes():
    lines = [line for path in sorted(KIBANA_DIR.glob("*.ndjson")) for line in path.read_text().splitlines()]
    assert len(lines) == len(EXPECTED_OBJECTS)
    for line in lines:
        saved_object = json.loads(line)
        assert {
            "type",
            "id",
            "attributes",
            "references",
            "coreMigrationVersion",
            "typeMigrationVersion",
        } <= saved_object.keys()
        assert isinstance(saved_object["references"], list)
    assert {(json.loads(line)["type"], json.loads(line)["id"]) for line in lines} == EXPECTED_OBJECTS


def test_loading_puts_data_views_before_what_uses_them(saved_objects):
    assert [saved_object["type"] for saved_object in saved_objects] == [
        "index-pattern",
        "index-pattern",
        "search",
        "dashboard",
    ]


def test_references_resolve_dashboard_to_search_and_data_views(saved_objects):
    assert kibana.unresolved_references(saved_objects) == []
    dashboard = objects_by_type(saved_objects, "dashboard")[0]
    targets = {(reference["type"], reference["id"]) for reference in dashboard["references"]}
    assert targets == {("search", "newsetl-canonical-articles"), ("index-pattern", ARTICLES_VIEW),
                       ("index-pattern", QUARANTINE_VIEW)}
    search = objects_by_type(saved_objects, "search")[0]
    assert search["references"] == [{"id": ARTICLES_VIEW, "name": kibana.SEARCH_INDEX_REF, "type": "index-pattern"}]


def test_a_missing_data_view_is_reported_as_unresolved(saved_objects):
    without_quarantine = [o for o in saved_objects if o["id"] != QUARANTINE_VIEW]
    problems = kibana.unresolved_references(without_quarantine)
    assert problems == [
        f"dashboard/newsetl-overview references missing index-pattern/{QUARANTINE_VIEW}",
        f"dashboard/newsetl-overview panel quarantine-reasons references missing index-pattern/{QUARANTINE_VIEW}",
    ]


def test_data_views_read_the_alias_and_its_quarantine_index_by_date(saved_objects):
    views = {o["id"]: o["attributes"] for o in objects_by_type(saved_objects, "index-pattern")}
    assert (views[ARTICLES_VIEW]["title"], views[ARTICLES_VIEW]["timeFieldName"]) == ("articles", "published_at")
    assert (views[QUARANTINE_VIEW]["title"], views[QUARANTINE_VIEW]["timeFieldName"]) == (
        "articles-quarantine", "quarantined_at")


def test_saved_search_lists_canonical_articles_with_the_useful_columns(saved_objects):
    search = objects_by_type(saved_objects, "search")[0]["attributes"]
    assert search["columns"] == [
        "title",
        "published_at",
        "persons",
        "organizations",
        "locations",
        "sources.path",
        "language",
    ]
    source = json.loads(search["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["query"] == {"query": "is_canonical:true", "language": "kuery"}
    assert source["indexRefName"] == kibana.SEARCH_INDEX_REF


def test_dashboard_has_the_panels_the_issue_asks_for(saved_objects):
    uses = kibana.referenced_fields(objects_by_type(saved_objects, "dashboard"))
    assert {("published_at", "date_histogram"), ("persons", "terms"), ("organizations", "terms"),
            ("locations", "terms"), ("sources.folder", "terms"), ("language", "terms")} <= uses[ARTICLES_VIEW]
    assert ("reason", "terms") in uses[QUARANTINE_VIEW]
    panels = kibana.dashboard_panels(objects_by_type(saved_objects, "dashboard")[0]["attributes"])
    assert [panel["type"] for panel in panels].count("search") == 1
    assert len({panel["panelIndex"] for panel in panels}) == len(panels) == 8


# --- fields against the index mappings ------------------------------------------------------


def test_mapping_fields_resolve_object_properties_and_multi_fields():
    fields = data_view_fields()[ARTICLES_VIEW]
    assert fields["sources.folder"]["type"] == "keyword"
    assert fields["title.keyword"]["type"] == "keyword"
    assert "sources" not in fields


def test_every_referenced_field_exists_with_a_type_its_panel_can_use(saved_objects):
    uses = kibana.referenced_fields(saved_objects)
    assert set(uses) == {ARTICLES_VIEW, QUARANTINE_VIEW}
    assert field_problems(uses, data_view_fields()) == []


def test_the_field_check_catches_text_terms_missing_fields_and_keyword_time_axes():
    uses = {ARTICLES_VIEW: {("body", "terms"), ("author_names", "column"), ("language", "date_histogram"),
                            ("minhash", "sort")},
            QUARANTINE_VIEW: {("is_canonical", "filter")}}
    assert field_problems(uses, data_view_fields()) == [
        f"{ARTICLES_VIEW}: author_names (column) is not in the mapping",
        f"{ARTICLES_VIEW}: body is text, terms needs one of ['boolean', 'keyword']",
        f"{ARTICLES_VIEW}: language is keyword, date_histogram needs one of ['date', 'date_nanos']",
        f"{ARTICLES_VIEW}: minhash has no doc values for sort",
        f"{QUARANTINE_VIEW}: is_canonical (filter) is not in the mapping",
    ]


# --- alias substitution ---------------------------------------------------------------------


def test_another_alias_renames_the_data_views_but_keeps_ids_and_files(saved_objects):
    renamed = kibana.with_alias(saved_objects, "news")
    views = {o["id"]: o["attributes"] for o in objects_by_type(renamed, "index-pattern")}
    assert views[ARTICLES_VIEW]["title"] == "news" and views[ARTICLES_VIEW]["name"] == "newsetl: news"
    assert views[QUARANTINE_VIEW]["title"] == "news-quarantine"
    assert [o["id"] for o in renamed] == [o["id"] for o in saved_objects]
    assert objects_by_type(saved_objects, "index-pattern")[0]["attributes"]["title"] == "articles"


def test_an_alias_that_cannot_name_a_data_view_is_a_configuration_error(saved_objects):
    with pytest.raises(ConfigurationError, match="cannot name a Kibana data view"):
        kibana.with_alias(saved_objects, "a,b")


# --- import through Kibana's API, against a test double ---------------------------------------


@dataclass
class ReceivedImport:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    file_name: str | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)


class KibanaImportTestDouble:
    """Test double: Kibana cannot run on this machine (no Docker, no Kibana download).

    An HTTP server on 127.0.0.1 that checks what Kibana's documented `POST /api/saved_objects/_import`
    requires (kbn-xsrf header, multipart/form-data with a `file` part named *.ndjson holding one saved
    object per line, the credentials) and answers in the shape of Kibana's import response; with
    `overwrite=true` existing objects are replaced, without it they come back as conflicts.
    """

    def __init__(self, authorization: str | None = None, scripted: list[tuple[int, dict]] | None = None):
        self.authorization = authorization
        self.scripted = list(scripted or [])  # answered, in order, before the normal behaviour
        self.received: list[ReceivedImport] = []
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}

    def __enter__(self) -> KibanaImportTestDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's naming
                status, answer = double.answer(self)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict]:
        split = urlsplit(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        received = ReceivedImport(handler.command, split.path, parse_qs(split.query),
                                  {name.lower(): value for name, value in handler.headers.items()})
        self.received.append(received)
        if self.scripted:
            return self.scripted.pop(0)
        if split.path != "/api/saved_objects/_import":
            return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
        if "kbn-xsrf" not in received.headers:
            return 400, bad_request("Request must contain a kbn-xsrf header.")
        if self.authorization and received.headers.get("authorization") != self.authorization:
            return 401, {
                "statusCode": 401,
                "error": "Unauthorized",
                "message": "[security_exception] unable to authenticate user",
            }
        content_type = received.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return 415, {"statusCode": 415, "error": "Unsupported Media Type", "message": "Unsupported Media Type"}
        form = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        parts = {part.get_param("name", header="content-disposition"): part for part in form.iter_parts()}
        if "file" not in parts:
            return 400, bad_request("[request body.file]: expected value of type [Stream] but got [undefined]")
        received.file_name = parts["file"].get_filename()
        if not (received.file_name or "").lower().endswith(".ndjson"):
            return 400, bad_request(f"Invalid file extension {Path(received.file_name or '').suffix}")
        for line in parts["file"].get_payload(decode=True).decode("utf-8").splitlines():
            if line.strip():
                received.objects.append(json.loads(line))
        if not all({"type", "id", "attributes"} <= saved_object.keys() for saved_object in received.objects):
            return 400, bad_request("Unexpected token in the ndjson file")
        return 200, self.import_objects(received.objects, overwrite=received.query.get("overwrite") == ["true"])

    def import_objects(self, objects: list[dict[str, Any]], overwrite: bool) -> dict[str, Any]:
        known = set(self.stored) | {(o["type"], o["id"]) for o in objects}
        results, errors = [], []
        for saved_object in objects:
            key = (saved_object["type"], saved_object["id"])
            meta = {"title": saved_object["attributes"].get("title")}
            missing = [ref for ref in saved_object.get("references", []) if (ref["type"], ref["id"]) not in known]
            if missing:
                errors.append({"type": key[0], "id": key[1], "meta": meta, "error": {
                    "type": "missing_references", "references": [{"type": r["type"], "id": r["id"]} for r in missing]}})
            elif key in self.stored and not overwrite:
                errors.append({"type": key[0], "id": key[1], "meta": meta, "error": {"type": "conflict"}})
            else:
                results.append(
                    {"type": key[0], "id": key[1], "meta": meta, **({"overwrite": True} if key in self.stored else {})}
                )
        for result in results:
            self.stored[(result["type"], result["id"])] = next(
                o for o in objects if (o["type"], o["id"]) == (result["type"], result["id"]))
        answer = {"success": not errors, "successCount": len(results), "successResults": results, "warnings": []}
        return {**answer, "errors": errors} if errors else answer


def bad_request(message: str) -> dict[str, Any]:
    return {"statusCode": 400, "error": "Bad Request", "message": message}


def no_wait(seconds: float) -> None:
    pass


def test_import_posts_the_ndjson_as_kibanas_api_documents():
    with KibanaImportTestDouble(authorization="ApiKey c2VjcmV0OmtleQ==") as double:
        result = kibana.import_saved_objects(KibanaSettings(url=double.url, api_key="c2VjcmV0OmtleQ=="), "articles")
    [request] = double.received
    assert (request.method, request.path, request.query) == (
        "POST",
        "/api/saved_objects/_import",
        {"overwrite": ["true"]},
    )
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["authorization"] == "ApiKey c2VjcmV0OmtleQ=="
    assert request.file_name.endswith(".ndjson")
    assert {(o["type"], o["id"]) for o in request.objects} == EXPECTED_OBJECTS
    assert result.success_count == 4
    assert set(result.imported) == {f"{kind}/{id_}" for kind, id_ in EXPECTED_OBJECTS}
    assert result.url == double.url and "imported 4 saved objects" in result.summary()


def test_import_sends_basic_auth_when_only_username_is_set():
    expected = "Basic " + base64.b64encode(b"elastic:changeme").decode()
    with KibanaImportTestDouble(authorization=expected) as double:
        kibana.import_saved_objects(
            KibanaSettings(url=double.url + "/", username="elastic", password="changeme"), "articles"
        )
    assert double.received[0].headers["authorization"] == expected
    assert double.received[0].path == "/api/saved_objects/_import"  # no doubled slash from the trailing one


def test_second_import_overwrites_the_same_objects():
    with KibanaImportTestDouble() as double:
        settings = KibanaSettings(url=double.url)
        first = kibana.import_saved_objects(settings, "articles")
        second = kibana.import_saved_objects(settings, "articles")
        assert set(double.stored) == EXPECTED_OBJECTS
        assert double.import_objects(double.received[0].objects, overwrite=False)["success"] is False
    assert first.imported == second.imported
    assert [o["id"] for o in double.received[0].objects] == [o["id"] for o in double.received[1].objects]


def test_rejected_credentials_are_a_one_line_configuration_error():
    with KibanaImportTestDouble(authorization="ApiKey right") as double:
        with pytest.raises(ConfigurationError) as raised:
            kibana.import_saved_objects(KibanaSettings(url=double.url, api_key="wrong"), "articles", sleep=no_wait)
    message = str(raised.value)
    assert "\n" not in message
    assert f"Kibana at {double.url} rejected the credentials (HTTP 401)" in message
    assert "KIBANA_API_KEY" in message
    assert len(double.received) == 1  # a 4xx is not retried


def test_unreachable_kibana_is_a_one_line_transient_error_naming_the_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    waits: list[float] = []
    with pytest.raises(TransientError) as raised:
        kibana.import_saved_objects(
            KibanaSettings(url=url), "articles", attempts=3, backoff_seconds=0.5, sleep=waits.append
        )
    message = str(raised.value)
    assert message.startswith(f"Kibana at {url} unreachable after 3 attempts:") and "\n" not in message
    assert waits == [0.5, 1.0]


def test_a_server_error_is_retried_then_the_import_succeeds():
    waits: list[float] = []
    with KibanaImportTestDouble(
        scripted=[(503, {"statusCode": 503, "message": "Kibana server is not ready yet"})]
    ) as double:
        result = kibana.import_saved_objects(KibanaSettings(url=double.url), "articles", sleep=waits.append)
    assert len(double.received) == 2 and waits == [2.0]
    assert result.success_count == 4


def test_a_bad_request_is_reported_with_kibanas_message():
    with KibanaImportTestDouble(scripted=[(400, bad_request("Invalid file extension .txt"))]) as double:
        with pytest.raises(NewsetlError, match=r"refused the import \(HTTP 400\): Invalid file extension .txt"):
            kibana.import_saved_objects(KibanaSettings(url=double.url), "articles", sleep=no_wait)
    assert len(double.received) == 1


def test_success_false_lists_every_failing_object():
    failure = {
        "success": False, "successCount": 2, "successResults": [],
        "errors": [
            {
                "type": "dashboard",
                "id": "newsetl-overview",
                "meta": {"title": "x"},
                "error": {
                    "type": "missing_references",
                    "references": [{"type": "index-pattern", "id": "newsetl-articles"}],
                },
            },
            {
                "type": "search",
                "id": "newsetl-canonical-articles",
                "meta": {},
                "error": {"type": "unknown", "message": "bad\nthing", "statusCode": 500},
            },
        ],
    }
    with KibanaImportTestDouble(scripted=[(200, failure)]) as double:
        with pytest.raises(kibana.KibanaImportError) as raised:
            kibana.import_saved_objects(KibanaSettings(url=double.url), "articles")
    assert str(raised.value) == (
        f"Kibana at {double.url} rejected 2 saved objects (2 imported): "
        "dashboard/newsetl-overview (missing_references: missing index-pattern/newsetl-articles); "
        "search/newsetl-canonical-articles (unknown: bad thing)")


def test_import_with_another_alias_sends_data_views_on_that_alias():
    with KibanaImportTestDouble() as double:
        kibana.import_saved_objects(KibanaSettings(url=double.url), "news")
    views = {o["id"]: o["attributes"]["title"] for o in double.received[0].objects if o["type"] == "index-pattern"}
    assert views == {ARTICLES_VIEW: "news", QUARANTINE_VIEW: "news-quarantine"}
    assert kibana.load_saved_objects()[0]["attributes"]["title"] == "articles"  # the data files keep "articles"


def test_data_files_that_do_not_fit_together_stop_before_any_request(tmp_path):
    for path in KIBANA_DIR.glob("*.ndjson"):
        if path.name != "data_views.ndjson":
            (tmp_path / path.name).write_text(path.read_text())
    with KibanaImportTestDouble() as double:
        with pytest.raises(ConfigurationError, match="do not fit together: .*missing index-pattern/newsetl-articles"):
            kibana.import_saved_objects(KibanaSettings(url=double.url), "articles", directory=tmp_path)
    assert double.received == []


def test_a_line_that_is_not_json_names_its_file_and_line(tmp_path):
    (tmp_path / "broken.ndjson").write_text('{"type": "index-pattern", "id": "x", "attributes": {}}\n{oops\n')
    with pytest.raises(ConfigurationError, match="broken.ndjson line 2 is not JSON"):
        kibana.load_saved_objects(tmp_path)


def test_a_kibana_url_without_scheme_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="KIBANA_URL must start with http"):
        kibana.import_saved_objects(KibanaSettings(url="localhost:5601"), "articles")
