"""`newsetl up | down | status` with a real Prefect server and runner, and no process that outlives newsetl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from newsetl import services
from newsetl.children import die_with
from tests.conftest import REPO, SAMPLES, free_port


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PREFECT_API_URL, `up`'s files under tmp_path."""
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(
        NEWSETL_SERVICES_HOME=str(tmp_path / "services"),
        NEWSETL_SERVICES_PREFECT_PORT=str(free_port()),
        PREFECT_HOME=str(tmp_path / "prefect-client"),  # the temporary API's database, not ~/.prefect
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        **extra,
    )
    return env


def newsetl(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsetl.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def alive(pid: int) -> bool:
    return services.process_start_time(pid) is not None


def wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --- up, a CLI run on its server, status, down ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.elasticsearch
def test_up_serves_the_deployments_a_cli_run_shows_on_its_server_and_down_leaves_nothing(es_settings, tmp_path):
    env = cli_env(tmp_path)
    started = newsetl("up", "--json", env=env)
    assert started.returncode == 0, started.stderr
    urls = json.loads(started.stdout.splitlines()[-1])
    api = urls["prefect_api_url"]
    assert urls["prefect_ui_url"] == api.removesuffix("/api") and urls["es_url"] == es_settings.es.url
    state = json.loads((tmp_path / "services" / "up.json").read_text())
    pids = {name: entry["pid"] for name, entry in state["processes"].items()}
    assert set(pids) == {"prefect_server", "runner"} and not state["es_started_by_up"]  # the test node answered
    assert (tmp_path / "services" / "prefect" / "prefect.db").exists()
    assert services.served_deployments(api, since=0) == {"nightly", "manual", "rebuild"}
    assert "<html" in urllib.request.urlopen(urls["prefect_ui_url"], timeout=10).read().decode().lower()

    again = newsetl("up", "--json", env=env)  # idempotent: the same processes
    assert again.returncode == 0 and json.loads(again.stdout.splitlines()[-1]) == urls
    assert {
        n: e["pid"] for n, e in json.loads((tmp_path / "services" / "up.json").read_text())["processes"].items()
    } == pids

    run = newsetl("run", str(SAMPLES), "--json", env=env)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    runs = services.recent_runs(api)
    assert [(r["flow"], r["deployment"], r["state"]) for r in runs] == [("ingest", None, "Completed")]

    status = newsetl("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout.splitlines()[-1])
    assert shown["prefect_server"]["healthy"] and shown["runner"]["pid"] == pids["runner"]
    assert shown["index"]["articles"] >= summary["written"] > 0 and shown["index"]["quarantined"] == 0
    assert shown["last_runs"][0]["id"] == runs[0]["id"]

    tree = [pid for pid in pids.values()] + [p for pid in pids.values() for p in services.descendants(pid)]
    stopped = newsetl("down", "--json", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert sorted(json.loads(stopped.stdout.splitlines()[-1])["stopped"]) == ["prefect_server", "runner"]
    assert wait_gone(tree) == []
    assert not (tmp_path / "services" / "up.json").exists()
    assert services.api_healthy(api) is False
    # Elasticsearch answered before `up`: it is not `up`'s to stop.
    assert urllib.request.urlopen(f"{es_settings.es.url}/_cluster/health", timeout=10).status == 200


def test_down_leaves_a_process_alone_whose_pid_was_recycled(tmp_path, monkeypatch):
    from newsetl.config.settings import load_settings

    monkeypatch.setenv("NEWSETL_SERVICES_HOME", str(tmp_path))
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        recycled = {
            "name": "runner",
            "pid": sleeper.pid,
            "start_time": services.process_start_time(sleeper.pid) - 1,
            "log": "",
        }
        services.write_state(services.Layout(tmp_path), {"processes": {"runner": recycled}})
        assert services.down(load_settings()) == {"stopped": []}
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


# --- nothing outlives newsetl -----------------------------------------------------------------


def test_a_child_started_with_die_with_ends_when_its_parent_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", (
            "import os, subprocess, sys, time; from newsetl.children import die_with;"
            "child = subprocess.Popen(['sleep', '60'], preexec_fn=die_with(os.getpid()));"
            "print(child.pid, flush=True); time.sleep(60)"
        )],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert wait_gone([child], timeout=5) == []
    assert die_with(os.getpid()) is not None


@pytest.mark.slow
@pytest.mark.elasticsearch
def test_kill_9_of_a_run_leaves_no_temporary_prefect_server_or_ner_worker_behind(es_settings, tmp_path):
    folder = tmp_path / "articles"
    for copy in range(8):
        (folder / f"copy{copy}").mkdir(parents=True)
        for path in SAMPLES.rglob("*"):
            if path.is_file():
                (folder / f"copy{copy}" / f"{path.parent.name}-{path.name}").write_bytes(path.read_bytes())
    env = cli_env(tmp_path, NEWSETL_ENRICH_PROCESSES="2", NEWSETL_FLOW_BATCH_SIZE="2")
    run = subprocess.Popen(
        [sys.executable, "-m", "newsetl.cli", "run", str(folder)], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            below = services.descendants(run.pid)
            lines = [command_line(pid) for pid in below]
            if any("uvicorn" in line for line in lines) and sum("multiprocessing.spawn" in line for line in lines) == 2:
                break
            assert run.poll() is None, "the run ended before its children were all up"
            assert time.monotonic() < deadline, f"children of the run: {lines}"
            time.sleep(0.2)
        time.sleep(1.0)  # the workers get to their loop
    finally:
        run.kill()
        run.wait()
    assert wait_gone(below) == [], [command_line(pid) for pid in below if alive(pid)]
