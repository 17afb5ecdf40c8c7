"""docker-compose.yml cannot run here (no Docker engine): its structure is checked instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from newsetl.config.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SECRET_NAMES = re.compile(r"PASSWORD|API_KEY|SECRET|ENCRYPTIONKEY|TOKEN", re.IGNORECASE)
REFERENCE = re.compile(r"^\$\{[A-Z_]+(:\?[^}]*|:-[^}]*)?\}$")


def environment(service: str) -> dict[str, str]:
    return {key: str(value) for key, value in (SERVICES[service].get("environment") or {}).items()}


def test_the_stack_has_elasticsearch_kibana_prefect_and_newsetl():
    assert {"setup", "es01", "kibana", "prefect", "newsetl", "kibana-import"} <= set(SERVICES)
    assert SERVICES["newsetl"]["command"] == ["newsetl", "serve"]
    assert SERVICES["kibana-import"]["command"] == ["newsetl", "kibana", "import"]
    assert SERVICES["kibana-import"]["depends_on"]["kibana"]["condition"] == "service_healthy"


def test_elasticsearch_and_kibana_images_match_the_local_node_version():
    version = load_settings().local_es.version
    for service, image in (
        ("es01", "elasticsearch/elasticsearch"),
        ("kibana", "kibana/kibana"),
        ("setup", "elasticsearch/elasticsearch"),
    ):
        assert SERVICES[service]["image"] == f"docker.elastic.co/{image}:${{STACK_VERSION:-{version}}}"
    example = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert example["STACK_VERSION"] == version


def test_security_is_on_with_tls():
    es = environment("es01")
    assert es["xpack.security.enabled"] == "true"
    assert es["xpack.security.http.ssl.enabled"] == "true"
    assert es["xpack.security.transport.ssl.enabled"] == "true"
    assert environment("kibana")["ELASTICSEARCH_HOSTS"].startswith("https://")
    newsetl = environment("newsetl")
    assert newsetl["NEWSETL_ES_URL"].startswith("https://") and newsetl["NEWSETL_ES_CA_CERTS"]


def test_no_secret_is_written_in_plain_text():
    for name in SERVICES:
        for key, value in environment(name).items():
            if SECRET_NAMES.search(key):
                assert REFERENCE.match(value), f"{name}.{key} must come from .env, not be written here"
    assert ".env" in (REPO / ".gitignore").read_text().split()
    example = (REPO / ".env.example").read_text()
    assert all(
        "change-me" in line for line in example.splitlines() if SECRET_NAMES.search(line.split("=")[0]) and "=" in line
    )


def test_newsetl_serves_the_mounted_articles_folder_with_telemetry_off():
    newsetl = environment("newsetl")
    volumes = SERVICES["newsetl"]["volumes"]
    assert any(volume.endswith(":/articles:ro") for volume in volumes)
    assert newsetl["NEWSETL_FLOW_FOLDERS"] == "/articles"
    assert newsetl["PREFECT_API_URL"] == "http://prefect:4200/api"
    assert newsetl["DO_NOT_TRACK"] == "1" and newsetl["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert environment("prefect")["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
