"""Progress of a run on a terminal: published by the flow, shown with rich, quiet off a terminal."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys

import pytest
from rich.console import Console

from newsetl.flows.report import PROGRESS_LOGGER, ProgressEvent, RunProgress
from newsetl.progress import TerminalProgress
from tests.conftest import REPO, SAMPLES


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.events: list[ProgressEvent] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(record.progress)


def test_a_run_outside_prefect_publishes_its_progress_as_events_and_makes_no_artifact():
    collect = Collect()
    PROGRESS_LOGGER.addHandler(collect)
    PROGRESS_LOGGER.setLevel(logging.DEBUG)
    try:
        progress = RunProgress(files_seen=12, total_files=10)
        progress.advance("read", 4)
        progress.advance("indexed", 4)
        progress.advance("read", 6)
    finally:
        PROGRESS_LOGGER.removeHandler(collect)
        PROGRESS_LOGGER.setLevel(logging.NOTSET)
    assert progress.artifact_id is None
    assert [(e.stage, e.done, e.total) for e in collect.events] == [
        ("start", 0, 10),
        ("read", 4, 10),
        ("indexed", 4, 10),
        ("read", 10, 10),
    ]
    assert collect.events[0].files_seen == 12


def test_the_terminal_display_shows_files_done_of_the_total_per_stage():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with TerminalProgress("run", ui_url="http://127.0.0.1:4200", console=console) as view:
        view.on_event(ProgressEvent("start", 0, 10, files_seen=12, run_id="abc"))
        view.on_event(ProgressEvent("read", 10, 10))
        view.on_event(ProgressEvent("indexed", 7, 10))
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "run: 12 files found, 10 to read (2 unchanged or refused)  http://127.0.0.1:4200/runs/flow-run/abc" in shown
    assert re.search(r"read & extract .* 10/10 files", shown)
    assert re.search(r"cleaned, enriched, indexed .* 7/10 files", shown)


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.elasticsearch
def test_a_run_on_a_terminal_shows_n_of_n_files_and_no_task_lines_and_a_pipe_gets_no_bars(
    es_settings, prefect_api, tmp_path
):
    if not shutil.which("script"):
        pytest.skip("util-linux `script` is needed for a terminal")
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES, folder)
    files = sum(1 for path in folder.rglob("*") if path.is_file())
    env = dict(os.environ, COLUMNS="150")
    command = f"{sys.executable} -m newsetl.cli run {folder}"
    terminal = subprocess.run(
        ["script", "-qfec", command, "/dev/null"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.stdout)
    assert terminal.returncode == 0, shown[-2000:]
    assert f"{files}/{files} files" in shown
    assert "Task run" not in shown and "Finished in state" not in shown
    assert re.search(rf"files_seen={files} .* in \d+\.\ds \(pipeline \d+\.\ds\)", shown)

    piped = subprocess.run(
        [*command.split(), "--force", "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert piped.returncode == 0, piped.stderr
    assert "━" not in piped.stderr and "files/s" not in piped.stderr
    summary = json.loads(piped.stdout.splitlines()[-1])
    assert summary["wall_seconds"] > summary["seconds"] > 0
