"""The local node is Elastic's real server: product header, 9.x version, english analyzer, clean stop."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import replace

import pytest

from newsetl import local_es
from newsetl.config.settings import load_settings
from newsetl.tasks.errors import LocalNodeError

pytestmark = pytest.mark.elasticsearch


def get(url: str) -> tuple[dict, dict]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(response.headers), json.loads(response.read() or b"{}")


def test_health_answers_with_the_elastic_product_header(es_node):
    headers, body = get(f"{es_node.es.url}/_cluster/health")
    assert headers.get("X-elastic-product") == "Elasticsearch"
    assert body["status"] in {"green", "yellow"}


def test_nodes_report_a_9x_version_and_our_modules(es_node):
    _, body = get(f"{es_node.es.url}/_nodes?filter_path=nodes.*.version,nodes.*.modules.name")
    node = next(iter(body["nodes"].values()))
    assert node["version"].startswith("9.")
    assert {"transport-netty4", "newsetl-local"} <= {module["name"] for module in node["modules"]}


def test_english_analyzer_stems_running_to_run(es_node):
    request = urllib.request.Request(
        f"{es_node.es.url}/_analyze",
        data=json.dumps({"analyzer": "english", "text": "running sanctions"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        tokens = [token["token"] for token in json.loads(response.read())["tokens"]]
    assert tokens == ["run", "sanction"]


def test_python_client_info_and_ping_work_unchanged(es_node):
    from newsetl.tasks.es.client import connect

    client = connect(es_node.es)
    try:
        assert client.ping()
        assert client.info()["version"]["number"].startswith("9.")
    finally:
        client.close()


def test_start_is_a_no_op_when_the_node_runs(es_node):
    before = local_es.status(es_node.es, es_node.local_es)
    after = local_es.start(es_node.es, es_node.local_es)
    assert after.pid == before.pid and after.health in {"green", "yellow"}


def test_port_taken_by_another_program_is_a_one_line_error(tmp_path):
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        base = load_settings()
        es = replace(base.es, url=f"http://127.0.0.1:{port}")
        local = replace(base.local_es, home=str(tmp_path / "node"))
        with pytest.raises(LocalNodeError, match=f"port {port} is in use by another program"):
            local_es.start(es, local)


def test_java_too_old_is_named(tmp_path):
    fake = tmp_path / "jdk17"
    (fake / "bin").mkdir(parents=True)
    (fake / "release").write_text('JAVA_VERSION="17.0.15"\n')
    local = replace(load_settings().local_es, java_home=str(fake))
    with pytest.raises(LocalNodeError, match="Java 17.*needs Java 21"):
        local_es.find_java_home(local)


def test_no_java_at_all_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(local_es, "java_version", lambda home: None)
    with pytest.raises(LocalNodeError, match="needs Java 21 or newer.*NEWSETL_LOCAL_ES_JAVA_HOME"):
        local_es.find_java_home(load_settings().local_es, environ={})


def test_cli_status_of_a_stopped_node_exits_non_zero_with_one_line(tmp_path):
    env = {
        "NEWSETL_ES_URL": "http://127.0.0.1:9299",
        "NEWSETL_LOCAL_ES_HOME": str(tmp_path / "node"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "newsetl.cli", "es", "status"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 3
    assert result.stdout.strip() == "not answering at http://127.0.0.1:9299"


def test_a_node_that_fails_to_start_shows_its_log(tmp_path):
    base = load_settings()
    es = replace(base.es, url="http://127.0.0.1:9298")
    # An invalid heap size makes the JVM exit at once: the error must carry the log's last lines.
    local = replace(base.local_es, home=str(tmp_path / "node"), heap="1x", start_timeout=60)
    with pytest.raises(LocalNodeError, match="exited during start-up(.|\\n)*Invalid"):
        local_es.start(es, local)


def test_stop_leaves_no_jvm_behind(tmp_path):
    base = load_settings()
    es = replace(base.es, url="http://127.0.0.1:9297")
    local = replace(base.local_es, home=str(tmp_path / "node"), heap="256m")
    node = local_es.start(es, local)
    assert node.pid and local_es.process_alive(node.pid)
    assert local_es.stop(es, local)
    assert not local_es.process_alive(node.pid)
    assert local_es.status(es, local).health is None
