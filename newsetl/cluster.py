"""`newsetl cluster start|stop|status`: a local Dask scheduler and worker processes, in the background.

For trying scale-out on one machine: the `dask` command line of `distributed`, run with this
Python (so the workers import this very newsetl and its spaCy models). Pid files, the address and
logs live under [cluster] home; `stop` stops only processes whose pid files `start` wrote.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import newsetl.config
from newsetl.config.settings import ClusterSettings
from newsetl.tasks.errors import NewsetlError

DASK_CONFIG = Path(newsetl.config.__file__).resolve().parent / "dask"  # newsetl's Dask settings for its workers

SCHEDULER, WORKERS = "scheduler", "workers"


class ClusterError(NewsetlError):
    """The local Dask cluster could not be started."""


@dataclass(frozen=True)
class ClusterStatus:
    address: str  # "" when no scheduler runs
    scheduler_pid: int | None
    workers_pid: int | None  # the `dask worker --nworkers N` process (its nannies start the worker processes)
    workers: int  # workers connected to the scheduler now

    @property
    def running(self) -> bool:
        return self.scheduler_pid is not None

    def describe(self) -> str:
        if not self.running:
            return "no local Dask cluster runs (start one with `newsetl cluster start`)"
        return (
            f"Dask scheduler at {self.address} (pid {self.scheduler_pid}), {self.workers} workers"
            + (f" (pid {self.workers_pid})" if self.workers_pid else "")
            + f"; use it with NEWSETL_DASK_ADDRESS={self.address}"
        )


def start(cluster: ClusterSettings, workers: int | None = None, timeout: float = 120.0) -> ClusterStatus:
    """Start the scheduler and `workers` single-threaded worker processes unless they run; wait until they joined."""
    home = Path(cluster.home)
    home.mkdir(parents=True, exist_ok=True)
    count = workers or cluster.workers or os.cpu_count() or 1
    address = _address(home) if _alive(home, SCHEDULER) else ""
    if not address:
        port = cluster.scheduler_port or _free_port()
        address = f"tcp://127.0.0.1:{port}"
        scheduler = _spawn(home, SCHEDULER, ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"])
        (home / "address").write_text(address)
        try:
            _wait_for_port(port, scheduler, home, timeout)
        except ClusterError:
            stop(cluster)  # nothing half-started is left behind
            raise
    if not _alive(home, WORKERS):
        arguments = ["worker", address, "--nthreads", "1", "--nworkers", str(count), "--no-dashboard"]
        workers_process = _spawn(home, WORKERS, arguments)
        try:
            _wait_for_workers(address, count, workers_process, home, timeout)
        except ClusterError:
            stop(cluster)
            raise
    return status(cluster)


def stop(cluster: ClusterSettings, timeout: float = 30.0) -> bool:
    """Stop the workers, then the scheduler `start` started; whether anything was running."""
    home = Path(cluster.home)
    stopped = False
    for role in (WORKERS, SCHEDULER):
        pid = _alive(home, role)
        if pid:
            _terminate(pid, timeout)
            stopped = True
        (home / f"{role}.pid").unlink(missing_ok=True)
    (home / "address").unlink(missing_ok=True)
    return stopped


def status(cluster: ClusterSettings) -> ClusterStatus:
    home = Path(cluster.home)
    scheduler_pid = _alive(home, SCHEDULER)
    if not scheduler_pid:
        return ClusterStatus("", None, _alive(home, WORKERS), 0)
    address = _address(home)
    return ClusterStatus(address, scheduler_pid, _alive(home, WORKERS), _connected_workers(address))


# --- processes ------------------------------------------------------------------------------------


def _spawn(home: Path, role: str, arguments: list[str]) -> subprocess.Popen:
    """Start `python -m dask ARGUMENTS` in its own session, logging to <home>/<role>.log; its pid file written."""
    log = open(home / f"{role}.log", "ab")
    # newsetl's Dask configuration (config/dask/) next to the user's own (DASK_CONFIG is one more folder read).
    environment = {**os.environ, "DASK_CONFIG": str(DASK_CONFIG)}
    process = subprocess.Popen(
        [sys.executable, "-m", "dask", *arguments],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=environment,
    )  # fmt: skip
    log.close()
    (home / f"{role}.pid").write_text(str(process.pid))
    return process


def _alive(home: Path, role: str) -> int | None:
    """The pid in <home>/<role>.pid if that process still runs and is a dask process (pids are reused)."""
    try:
        pid = int((home / f"{role}.pid").read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"dask" in command and _state(pid) != "Z" else None


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM to the process group `start` created (dask's own processes and their children), SIGKILL if it stays."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _state(pid) == "Z":
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _address(home: Path) -> str:
    try:
        return (home / "address").read_text().strip()
    except OSError:
        return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, home: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise ClusterError(f"the Dask scheduler did not start on port {port}: {_log_tail(home, SCHEDULER)}")
        time.sleep(0.2)


def _wait_for_workers(address: str, count: int, process: subprocess.Popen, home: Path, timeout: float) -> None:
    from distributed import Client

    with Client(address, timeout=timeout, set_as_default=False) as client:
        deadline = time.monotonic() + timeout
        while len(client.scheduler_info(n_workers=-1)["workers"]) < count:
            if process.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"{count} Dask workers did not join {address}: {_log_tail(home, WORKERS)}")
            time.sleep(0.2)


def _connected_workers(address: str) -> int:
    from distributed import Client

    try:
        with Client(address, timeout=5, set_as_default=False) as client:
            return len(client.scheduler_info(n_workers=-1)["workers"])
    except (OSError, TimeoutError):
        return 0


def _log_tail(home: Path, role: str) -> str:
    try:
        lines = (home / f"{role}.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "empty log"
