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


def test_dask_scheduler_and_scalable_workers_run_the_newsetl_image_and_serve_points_at_the_scheduler():
    scheduler, worker = SERVICES["dask-scheduler"], SERVICES["dask-worker"]
    assert scheduler["image"] == worker["image"] == SERVICES["newsetl"]["image"]
    assert scheduler["command"][:4] == ["python", "-m", "dask", "scheduler"] and "8786" in scheduler["command"]
    assert worker["command"][:5] == ["python", "-m", "dask", "worker", "tcp://dask-scheduler:8786"]
    assert worker["command"][worker["command"].index("--nthreads") + 1] == "1"
    assert "container_name" not in worker and "ports" not in worker  # `--scale dask-worker=N` needs neither
    assert worker["depends_on"]["dask-scheduler"]["condition"] == "service_healthy"
    newsetl = environment("newsetl")
    assert newsetl["NEWSETL_DASK_ADDRESS"] == "tcp://dask-scheduler:8786"
    # Extraction runs on the workers only because they see the articles at the driver's path.
    assert newsetl["NEWSETL_CLUSTER_SHARED_PATHS"] == "true"
    assert [v for v in SERVICES["newsetl"]["volumes"] if v.endswith(":/articles:ro")] == [
        v for v in worker["volumes"] if v.endswith(":/articles:ro")
    ]
    assert newsetl["NEWSETL_ES_URL"] == environment("kibana-import")["NEWSETL_ES_URL"]  # the shared settings kept
