"""`newsetl up | down | status`: a local installation in the background, and the Prefect API commands use.

`up` starts what is missing — the local Elasticsearch (unless one answers at NEWSETL_ES_URL), a
Prefect server with its UI (SQLite under the services home) and the deployments runner
(`newsetl serve`) — and writes what it started to `<home>/up.json`: pid, the process's start time
(so a recycled pid is never taken for ours) and the URLs. `down` stops exactly those processes.

Commands that run a flow (`run`, `process`, `rebuild`, `bench`) use that Prefect server, or
PREFECT_API_URL, or else a temporary API server that is a child of theirs and dies with them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from newsetl.children import die_with
from newsetl.config.settings import Settings
from newsetl.tasks.errors import NewsetlError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = ("nightly", "manual", "rebuild")
STOP_TIMEOUT = 20.0
LOG_TAIL_LINES = 15
# What a server that is only for newsetl needs; Prefect's analytics stay off wherever they run.
QUIET_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


class ServiceError(NewsetlError):
    """A service of `newsetl up` could not be started or does not answer."""


@dataclass(frozen=True)
class ServiceProcess:
    """A process `up` started: its pid and start time (clock ticks since boot) tell it from a recycled pid."""

    name: str
    pid: int
    start_time: int
    log: str

    def alive(self) -> bool:
        return process_start_time(self.pid) == self.start_time


@dataclass(frozen=True)
class Layout:
    """Where `up` keeps its state, logs and the Prefect server's database."""

    home: Path

    @property
    def state_file(self) -> Path:
        return self.home / "up.json"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def layout_of(settings: Settings) -> Layout:
    return Layout(home=Path(settings.services.home).expanduser().absolute())


# --- processes ------------------------------------------------------------------------------------


def process_start_time(pid: int) -> int | None:
    """The start time of a live (not zombie) process, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in {"Z", "X"} else int(fields[19])


def descendants(pid: int) -> list[int]:
    """Every process below pid (children, their children, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                parent = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def start_process(name: str, command: list[str], env: dict[str, str], log: Path) -> ServiceProcess:
    """A background process in a session of its own (a terminal's Ctrl-C does not reach it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    start_time = process_start_time(process.pid)
    if start_time is None:
        raise ServiceError(f"{name} exited at once:\n{log_tail(log)}")
    return ServiceProcess(name=name, pid=process.pid, start_time=start_time, log=str(log))


def stop_process(service: ServiceProcess, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM to the process and everything below it (a served flow run, its NER workers), then SIGKILL."""
    if not service.alive():
        return False
    tree = [(service.pid, service.start_time), *((pid, process_start_time(pid)) for pid in descendants(service.pid))]
    signal_all(tree, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running(tree):
        reap(service.pid)
        time.sleep(0.2)
    signal_all(tree, signal.SIGKILL)
    reap(service.pid)
    return True


def running(processes: list[tuple[int, int | None]]) -> list[int]:
    """The processes that still run; a pid now held by another process (another start time) does not count."""
    return [pid for pid, started in processes if started is not None and process_start_time(pid) == started]


def signal_all(processes: list[tuple[int, int | None]], sig: int) -> None:
    for pid in running(processes):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def reap(pid: int) -> None:
    """Collect the exit status of a child of this process (a test's `up` runs in-process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(line[:300] for line in log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- the Prefect API over HTTP (no prefect import: status and the commands' look-up stay fast) -----


def get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode() or "null")


def post_json(url: str, body: dict[str, Any], timeout: float = 5.0) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode() or "null")


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return get_json(f"{api_url}/health", timeout) is True
    except (OSError, ValueError):
        return False


def served_deployments(api_url: str, since: float) -> set[str]:
    """Names of newsetl's deployments that a runner polled at or after `since` (epoch seconds)."""
    from datetime import datetime

    try:
        deployments = post_json(f"{api_url}/deployments/filter", {"deployments": {"name": {"any_": list(DEPLOYMENTS)}}})
    except (OSError, ValueError):
        return set()
    ready = set()
    for deployment in deployments or []:
        polled = deployment.get("last_polled")
        if polled and datetime.fromisoformat(polled.replace("Z", "+00:00")).timestamp() >= since - 1:
            ready.add(deployment["name"])
    return ready


def recent_runs(api_url: str, limit: int = 5) -> list[dict[str, Any]]:
    """The last flow runs, newest first: flow/deployment, run name, state, start and duration."""
    runs = post_json(
        f"{api_url}/flow_runs/filter",
        {"flow_runs": {"state": {"type": {"not_any_": ["SCHEDULED"]}}}, "sort": "START_TIME_DESC", "limit": limit},
    )
    flows = {f["id"]: f["name"] for f in post_json(f"{api_url}/flows/filter", {"limit": 200})}
    deployments = {d["id"]: d["name"] for d in post_json(f"{api_url}/deployments/filter", {"limit": 200})}
    return [
        {
            "id": run["id"],
            "name": run["name"],
            "flow": flows.get(run["flow_id"], "?"),
            "deployment": deployments.get(run.get("deployment_id") or "", None),
            "state": run.get("state_name") or (run.get("state") or {}).get("name"),
            "start_time": run.get("start_time") or run.get("expected_start_time"),
            "seconds": round(run.get("total_run_time") or 0.0, 1),
        }
        for run in runs
    ]


def wait_until(check, timeout: float, what: str, process: ServiceProcess | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process is not None and not process.alive():
            reap(process.pid)
            raise ServiceError(
                f"{what}: {process.name} exited. Last lines of {process.log}:\n{log_tail(Path(process.log))}"
            )
        if time.monotonic() > deadline:
            raise ServiceError(f"{what}: no answer after {timeout:.0f}s" + (f"; see {process.log}" if process else ""))
        time.sleep(0.3)


# --- up / down / status ---------------------------------------------------------------------------


def read_state(layout: Layout) -> dict[str, Any]:
    try:
        return json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return {}


def write_state(layout: Layout, state: dict[str, Any]) -> None:
    layout.home.mkdir(parents=True, exist_ok=True)
    temporary = layout.state_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n")
    temporary.replace(layout.state_file)


def service_of(state: dict[str, Any], name: str) -> ServiceProcess | None:
    entry = state.get("processes", {}).get(name)
    return ServiceProcess(**entry) if entry else None


def child_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(QUIET_ENV, **extra)
    return env


def up(settings: Settings) -> dict[str, Any]:
    """Start what is not running yet; return the URLs once everything answers. Safe to repeat."""
    from newsetl import local_es

    layout = layout_of(settings)
    state = read_state(layout)
    processes: dict[str, dict[str, Any]] = dict(state.get("processes", {}))
    state.setdefault("es_started_by_up", False)

    node = local_es.status(settings.es, settings.local_es)
    if not node.health:
        node = local_es.start(settings.es, settings.local_es)
        state["es_started_by_up"] = True
        state["es_pid"] = node.pid
    state["es_url"] = node.url

    port = settings.services.prefect_port
    server = service_of(state, "prefect_server")
    if server is not None and server.alive():
        port = state["prefect_port"]
    else:
        if port_in_use(port):
            raise ServiceError(
                f"port {port} is in use by another program; "
                "set NEWSETL_SERVICES_PREFECT_PORT to a free port for the Prefect server"
            )
        layout.prefect_home.mkdir(parents=True, exist_ok=True)
        api = f"http://127.0.0.1:{port}/api"
        env = child_env(PREFECT_HOME=str(layout.prefect_home), PREFECT_UI_API_URL=api, PREFECT_SERVER_UI_ENABLED="true")
        command = [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--analytics-off",
        ]
        server = start_process("prefect_server", command, env, layout.logs / "prefect-server.log")
        processes["prefect_server"] = asdict(server)
        state.update(processes=processes, prefect_port=port)
        write_state(layout, state)
    api_url = f"http://127.0.0.1:{port}/api"
    state.update(prefect_api_url=api_url, prefect_ui_url=f"http://127.0.0.1:{port}")
    write_state(layout, state)
    wait_until(lambda: api_healthy(api_url), settings.services.start_timeout, "the Prefect server", server)

    runner = service_of(state, "runner")
    if runner is None or not runner.alive():
        started = time.time()
        # The runner's flow runs read their settings as this command did: from this environment.
        env = child_env(PREFECT_API_URL=api_url, PREFECT_HOME=str(layout.prefect_home))
        runner = start_process("runner", [sys.executable, "-m", "newsetl.cli", "serve"], env, layout.logs / "serve.log")
        processes["runner"] = asdict(runner)
        state["processes"] = processes
        write_state(layout, state)
        wait_until(
            lambda: served_deployments(api_url, started) >= set(DEPLOYMENTS),
            settings.services.start_timeout,
            "the deployments runner (newsetl serve)",
            runner,
        )
    return urls(state)


def urls(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "prefect_api_url": state.get("prefect_api_url"),
        "prefect_ui_url": state.get("prefect_ui_url"),
        "es_url": state.get("es_url"),
        "deployments": [f"{'rebuild' if name == 'rebuild' else 'ingest'}/{name}" for name in DEPLOYMENTS],
    }


def down(settings: Settings) -> dict[str, Any]:
    """Stop what `up` started — the runner, the Prefect server, the local node if `up` started it — and nothing else."""
    from newsetl import local_es

    layout = layout_of(settings)
    state = read_state(layout)
    stopped = []
    for name in ("runner", "prefect_server"):
        service = service_of(state, name)
        if service is not None and stop_process(service):
            stopped.append(name)
    if state.get("es_started_by_up"):
        pid = local_es.read_pid(local_es.node_layout(settings.es, settings.local_es))
        if pid is not None and pid == state.get("es_pid") and local_es.stop(settings.es, settings.local_es):
            stopped.append("elasticsearch")
    layout.state_file.unlink(missing_ok=True)
    return {"stopped": stopped}


def status(settings: Settings) -> dict[str, Any]:
    """Each service, the index's article and quarantine counts, and the last runs."""
    from newsetl import local_es

    state = read_state(layout_of(settings))
    node = local_es.status(settings.es, settings.local_es)
    api_url = prefect_api_url(settings) or os.environ.get("PREFECT_API_URL") or None
    server, runner = service_of(state, "prefect_server"), service_of(state, "runner")
    result: dict[str, Any] = {
        "elasticsearch": {
            "url": node.url,
            "health": node.health,
            "version": node.version,
            "started_by_up": bool(state.get("es_started_by_up")),
        },
        "prefect_server": {
            "url": api_url,
            "ui_url": api_url.removesuffix("/api") if api_url else None,
            "healthy": bool(api_url) and api_healthy(api_url),
            "pid": server.pid if server and server.alive() else None,
        },
        "runner": {"pid": runner.pid if runner and runner.alive() else None},
        "index": index_counts(settings) if node.health else None,
        "last_runs": [],
    }
    if result["prefect_server"]["healthy"]:
        try:
            result["last_runs"] = recent_runs(api_url)
        except (OSError, ValueError) as error:
            result["last_runs_error"] = str(error)
    return result


def index_counts(settings: Settings) -> dict[str, Any]:
    from newsetl.tasks.es.client import connect

    client = connect(settings.es)
    try:
        counts = {}
        for key, index in (("articles", settings.es.index), ("quarantined", settings.es.quarantine_index)):
            response = client.options(ignore_status=404, request_timeout=5).count(index=index)
            counts[key] = response.get("count") if response.meta.status == 200 else None
        return {"alias": settings.es.index, **counts}
    finally:
        client.close()


# --- the Prefect API a command uses ---------------------------------------------------------------


def prefect_api_url(settings: Settings) -> str | None:
    """The API of a running `newsetl up` (from its state file), when it answers."""
    state = read_state(layout_of(settings))
    url = state.get("prefect_api_url")
    server = service_of(state, "prefect_server")
    return url if url and server is not None and server.alive() and api_healthy(url, timeout=1.0) else None


@contextmanager
def temporary_prefect_api(timeout: float) -> Iterator[str]:
    """Prefect's temporary API server, started as this process's child that dies with it (even on kill -9).

    NOTE: Prefect starts the same server by itself when no API is set (SubprocessASGIServer), but
    as a plain child: a killed newsetl left it running. Same command and flags as Prefect's.
    """
    import importlib.util

    site_packages = Path(importlib.util.find_spec("prefect").origin).parents[1]  # without importing prefect
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
        **QUIET_ENV,
    }
    env.pop("PREFECT_API_URL", None)
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(site_packages), "--factory",
        "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error",
        "--lifespan", "on",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with(os.getpid()))
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout
        while not api_healthy(api_url, timeout=1.0):
            if process.poll() is not None:
                raise ServiceError(f"the temporary Prefect API server exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"the temporary Prefect API server did not answer within {timeout:.0f}s "
                    "(start `newsetl up` once instead)"
                )
            time.sleep(0.2)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
