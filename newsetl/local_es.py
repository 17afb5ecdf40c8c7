"""The local single-node Elasticsearch of `newsetl es start|stop|status` (no Docker).

Maven resolves Elastic's server and transport-netty4 module from Maven Central once and lays
them out as an Elasticsearch home (see localnode/pom.xml); the node then starts offline in a
JVM of Java 21 or newer, bound to 127.0.0.1 on the port of NEWSETL_ES_URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from newsetl.config.settings import ElasticsearchSettings, LocalElasticsearchSettings
from newsetl.tasks.errors import LocalNodeError

LOCALNODE_DIR = Path(__file__).resolve().parents[1] / "localnode"
MIN_JAVA = 21
LAUNCHER_CLASS = "org.newsetl.localnode.launcher.LocalNode"
LOG_TAIL_LINES = 25


@dataclass(frozen=True)
class NodeLayout:
    """Where the local node keeps its files: shared jars (build) apart from this node's own (home)."""

    home: Path  # config/, logs/, node.pid of this node
    data: Path
    build: Path  # lib/, modules/, launcher/: Elasticsearch as Maven laid it out
    host: str
    http_port: int

    @property
    def config(self) -> Path:
        return self.home / "config"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "elasticsearch.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "node.pid"

    @property
    def transport_port(self) -> int:
        return self.http_port + 100

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    pid: int | None
    health: str | None  # green, yellow, red, or None when not answering
    version: str | None
    url: str
    detail: str = ""


def node_layout(es: ElasticsearchSettings, local: LocalElasticsearchSettings) -> NodeLayout:
    """The local node's folders and port, from settings."""
    parts = urlsplit(es.url)
    if parts.scheme != "http":
        raise LocalNodeError(f"the local node serves plain http; NEWSETL_ES_URL is {es.url}")
    host = parts.hostname or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost"}:
        raise LocalNodeError(f"the local node binds to 127.0.0.1; NEWSETL_ES_URL points to {host}")
    home = Path(local.home).expanduser().resolve()
    data = Path(local.data).expanduser().resolve() if local.data else home / "data"
    build = Path(local.build_dir).expanduser().resolve() / f"elasticsearch-{local.version}-{build_fingerprint(local)}"
    return NodeLayout(home=home, data=data, build=build, host="127.0.0.1", http_port=parts.port or 9200)


# --- Java and Maven -------------------------------------------------------------------------


def java_version(java_home: Path) -> int | None:
    """The feature version (17, 21, 25...) of the JDK or JRE at java_home, or None."""
    release = java_home / "release"
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.MULTILINE)
        if match:
            return int(match.group(1))
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def find_java_home(local: LocalElasticsearchSettings, environ: dict[str, str] | None = None) -> Path:
    """A Java 21+ home: the setting, then JAVA_HOME, then the newest JDK in the usual places."""
    environ = dict(os.environ) if environ is None else environ
    seen: list[str] = []
    if local.java_home:
        home = Path(local.java_home)
        version = java_version(home)
        if version is None or version < MIN_JAVA:
            raise LocalNodeError(
                f"NEWSETL_LOCAL_ES_JAVA_HOME={home} is {'not a Java home' if version is None else f'Java {version}'}; "
                f"the local Elasticsearch needs Java {MIN_JAVA} or newer"
            )
        return home
    candidates: list[Path] = []
    if environ.get("JAVA_HOME"):
        candidates.append(Path(environ["JAVA_HOME"]))
    for folder in (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm")):
        if folder.is_dir():
            candidates.extend(sorted(p for p in folder.iterdir() if p.is_dir()))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parents[1])
    best: tuple[int, Path] | None = None
    for home in candidates:
        version = java_version(home)
        if version is None:
            continue
        seen.append(f"{home} (Java {version})")
        if version >= MIN_JAVA and (best is None or version > best[0]):
            best = (version, home)
    if best is None:
        found = "; found: " + ", ".join(seen) if seen else "; no Java found"
        raise LocalNodeError(
            f"the local Elasticsearch needs Java {MIN_JAVA} or newer{found}. "
            "Install one (e.g. apt install openjdk-21-jdk-headless) or set NEWSETL_LOCAL_ES_JAVA_HOME"
        )
    return best[1]


def build_fingerprint(local: LocalElasticsearchSettings) -> str:
    """Changes when the node must be rebuilt: the version, the pom, our Java and config files."""
    digest = hashlib.sha256(local.version.encode())
    for path in sorted(LOCALNODE_DIR.rglob("*")):
        if path.is_file() and "target" not in path.relative_to(LOCALNODE_DIR).parts:
            digest.update(str(path.relative_to(LOCALNODE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_built(layout: NodeLayout, local: LocalElasticsearchSettings, java_home: Path) -> None:
    """Lay out Elasticsearch with Maven unless this version and these sources are already built."""
    if (layout.build / "launcher").is_dir():
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalNodeError(
            "Maven (mvn) is not installed; it is needed once to fetch Elasticsearch from Maven Central"
        )
    layout.build.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=layout.build.name + ".", dir=layout.build.parent))
    command = [
        mvn, "-B", "-q", "-f", str(LOCALNODE_DIR / "pom.xml"), "package",
        f"-Delasticsearch.version={local.version}", f"-Dhome={staging}",
    ]  # fmt: skip
    env = dict(os.environ, JAVA_HOME=str(java_home))
    print(
        f"newsetl: building the local Elasticsearch {local.version} with Maven (once)...", file=sys.stderr, flush=True
    )
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        output = (result.stdout + result.stderr).strip().splitlines()
        useful = [line for line in output if "WARNING" not in line][-LOG_TAIL_LINES:]
        hint = ""
        if any("Could not resolve" in line or "Could not transfer" in line or "offline" in line for line in output):
            hint = " (Maven could not reach Maven Central and the artifacts are not in ~/.m2 yet)"
        raise LocalNodeError(f"building the local Elasticsearch failed{hint}:\n" + "\n".join(useful))
    try:
        staging.rename(layout.build)  # atomic: a concurrent build that finished first wins
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def write_node_config(layout: NodeLayout, local: LocalElasticsearchSettings) -> None:
    """elasticsearch.yml and log4j2.properties of the local node, from settings."""
    config = layout.config
    config.mkdir(parents=True, exist_ok=True)
    layout.data.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(parents=True, exist_ok=True)
    settings = {
        "cluster.name": "newsetl-local",
        "node.name": "newsetl-local",
        "path.data": str(layout.data),
        "path.logs": str(layout.logs),
        "discovery.type": "single-node",
        "network.host": layout.host,
        "http.port": layout.http_port,
        "transport.port": layout.transport_port,
        # A full disk must not flip the indices to read-only on a developer machine.
        "cluster.routing.allocation.disk.threshold_enabled": False,
    }
    lines = ["# Written by `newsetl es start` from newsetl's settings; edits are overwritten."]
    lines += [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    (config / "elasticsearch.yml").write_text("\n".join(lines) + "\n")
    shutil.copyfile(LOCALNODE_DIR / "config" / "log4j2.properties", config / "log4j2.properties")


def java_command(layout: NodeLayout, local: LocalElasticsearchSettings, java_home: Path) -> list[str]:
    launcher = sorted((layout.build / "launcher").glob("*.jar"))
    if not launcher:
        raise LocalNodeError(f"no launcher jar in {layout.build / 'launcher'}; delete {layout.build} to rebuild")
    options = [
        f"-Xms{local.heap}", f"-Xmx{local.heap}",
        "-XX:+HeapDumpOnOutOfMemoryError", f"-XX:HeapDumpPath={layout.logs}",
        "-Dfile.encoding=UTF-8", "-Dlog4j2.formatMsgNoLookups=true",
        f"-Djava.io.tmpdir={layout.home / 'tmp'}",
        "--enable-native-access=ALL-UNNAMED,org.apache.lucene.core,org.elasticsearch.nativeaccess",
    ]  # fmt: skip
    version = java_version(java_home) or MIN_JAVA
    if version >= 23:
        # NOTE: netty 4.1 still uses sun.misc.Unsafe; JDK 24+ warns on every start without this.
        options.append("--sun-misc-unsafe-memory-access=allow")
    options += ["--add-modules=jdk.incubator.vector"]
    return [
        str(java_home / "bin" / "java"), *options,
        "--module-path", str(layout.build / "lib"), "--add-modules=ALL-MODULE-PATH",
        "-cp", str(launcher[-1]), LAUNCHER_CLASS, str(layout.build), str(layout.config),
    ]  # fmt: skip


# --- Process and health ---------------------------------------------------------------------


def read_pid(layout: NodeLayout) -> int | None:
    try:
        pid = int(layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def cluster_health(url: str, timeout: float = 2.0) -> tuple[str | None, str | None]:
    """(status, product header) of GET /_cluster/health, or (None, None) when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as response:
            body = json.loads(response.read().decode())
            return body.get("status"), response.headers.get("X-elastic-product")
    except urllib.error.HTTPError as error:
        return None, error.headers.get("X-elastic-product")
    except (OSError, ValueError):
        return None, None


def node_version(url: str, timeout: float = 2.0) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/_nodes/_local?filter_path=nodes.*.version", timeout=timeout) as response:
            nodes = json.loads(response.read().decode()).get("nodes", {})
            return next(iter(nodes.values()))["version"] if nodes else None
    except (OSError, ValueError, KeyError, StopIteration):
        return None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def log_tail(layout: NodeLayout, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = layout.log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log file)"
    return "\n".join(line[:300] for line in text[-lines:])


def status(es: ElasticsearchSettings, local: LocalElasticsearchSettings) -> NodeStatus:
    """Whether the local node runs, and what the URL answers."""
    try:
        remote = remote_status(es)
    except LocalNodeError as error:
        return NodeStatus(running=False, pid=None, health=None, version=None, url=es.url, detail=str(error))
    if remote is not None:
        return remote
    layout = node_layout(es, local)
    pid = read_pid(layout)
    health, product = cluster_health(layout.url)
    version = node_version(layout.url) if health else None
    detail = ""
    if health and pid is None:
        detail = "an Elasticsearch not started by newsetl answers at this URL"
    elif pid and not health:
        detail = "the process runs but does not answer (starting, or failing: see the log)"
    return NodeStatus(running=pid is not None, pid=pid, health=health, version=version, url=layout.url, detail=detail)


def remote_status(es: ElasticsearchSettings) -> NodeStatus | None:
    """The status of a cluster that is not ours (NEWSETL_ES_URL elsewhere), asked with its credentials."""
    host = urlsplit(es.url).hostname or ""
    if urlsplit(es.url).scheme == "http" and host in {"127.0.0.1", "localhost"}:
        return None
    from newsetl.tasks.es.client import connect

    client = connect(es)
    try:
        health = client.options(request_timeout=5).cluster.health()["status"]
        version = client.options(request_timeout=5).nodes.info(node_id="_local", metric="_none")
        number = next(iter(version["nodes"].values()))["version"] if version.get("nodes") else None
        return NodeStatus(
            running=False, pid=None, health=health, version=number, url=es.url, detail="an existing cluster"
        )
    except Exception as error:  # noqa: BLE001 - any failure means: not answering
        raise LocalNodeError(
            f"NEWSETL_ES_URL={es.url} does not answer ({type(error).__name__}); the local node only runs on "
            "http://127.0.0.1 (unset NEWSETL_ES_URL to use it)"
        ) from None
    finally:
        client.close()


def start(es: ElasticsearchSettings, local: LocalElasticsearchSettings) -> NodeStatus:
    """Start the local node and return once it is at least yellow; a no-op when one already answers."""
    remote = remote_status(es)
    if remote is not None:
        return remote
    layout = node_layout(es, local)
    health, product = cluster_health(layout.url)
    if health in {"green", "yellow"}:
        return status(es, local)
    pid = read_pid(layout)
    if pid is None:
        if port_in_use(layout.host, layout.http_port):
            what = "an Elasticsearch that is not healthy" if product else "another program"
            raise LocalNodeError(
                f"port {layout.http_port} is in use by {what}; stop it or set NEWSETL_ES_URL to a free port"
            )
        if port_in_use(layout.host, layout.transport_port):
            raise LocalNodeError(
                f"transport port {layout.transport_port} (HTTP port + 100) is in use by another program"
            )
        java_home = find_java_home(local)
        ensure_built(layout, local, java_home)
        write_node_config(layout, local)
        (layout.home / "tmp").mkdir(exist_ok=True)
        with open(layout.log_file, "ab") as log:
            process = subprocess.Popen(
                java_command(layout, local, java_home),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=layout.home,
            )  # fmt: skip
        layout.pid_file.write_text(f"{process.pid}\n")
        pid = process.pid
    deadline = time.monotonic() + local.start_timeout
    while time.monotonic() < deadline:
        health, _ = cluster_health(layout.url)
        if health in {"green", "yellow"}:
            return status(es, local)
        if not process_alive(pid):
            layout.pid_file.unlink(missing_ok=True)
            raise LocalNodeError(
                f"the local Elasticsearch exited during start-up. Last lines of {layout.log_file}:\n{log_tail(layout)}"
            )
        time.sleep(0.5)
    stop(es, local)
    raise LocalNodeError(
        f"the local Elasticsearch was not healthy after {local.start_timeout:.0f}s."
        f" Last lines of {layout.log_file}:\n{log_tail(layout)}"
    )


def stop(es: ElasticsearchSettings, local: LocalElasticsearchSettings, timeout: float = 30.0) -> bool:
    """Stop the local node (SIGTERM, then SIGKILL after timeout); False when it was not running."""
    if urlsplit(es.url).hostname not in {"127.0.0.1", "localhost"}:
        raise LocalNodeError(f"NEWSETL_ES_URL={es.url} is not the local node; newsetl does not stop other clusters")
    layout = node_layout(es, local)
    pid = read_pid(layout)
    if pid is None:
        layout.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while process_alive(pid):
            time.sleep(0.1)
    layout.pid_file.unlink(missing_ok=True)
    return True
