"""A run's progress on a terminal: files read and indexed out of the total, rate and ETA (rich).

The flow publishes its progress itself (flows/report.py: RunProgress) as events on the
`newsetl.progress` logger; when the flow runs in this process, a handler here turns them into
progress bars on stderr. Prefect's own console lines go through the same console, above the bars.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from newsetl.flows.report import PROGRESS_LOGGER, ProgressEvent

STAGES = {
    "learned": "learn boilerplate (first read)",
    "read": "read & extract",
    "indexed": "cleaned, enriched, indexed",
}
# Prefect's lines for each task run ("Task run 'extract-7fa' - Finished in state Completed()")
# are noise next to the bars; --verbose shows them.
PREFECT_RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


class RateColumn(ProgressColumn):
    """Files per second over the last seconds."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f} files/s" if task.speed else "", style="progress.data.speed")


class TerminalProgress:
    """Bars for the flow runs of this process while the context is open (stderr)."""

    def __init__(self, title: str, ui_url: str | None = None, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.title = title
        self.ui_url = ui_url
        columns = [SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn()]
        columns += [TextColumn("files"), RateColumn(), TextColumn("ETA"), TimeRemainingColumn()]
        columns += [TextColumn("elapsed"), TimeElapsedColumn()]
        self.progress = Progress(*columns, console=self.console)
        self.rows: dict[str, TaskID] = {}
        self.waiting: TaskID | None = None
        self.handler = _EventHandler(self)
        self._consoles: list[tuple[Any, Console]] = []

    def __enter__(self) -> TerminalProgress:
        self.progress.start()
        self.waiting = self.progress.add_task(f"{self.title}: starting", total=None)
        PROGRESS_LOGGER.addHandler(self.handler)
        PROGRESS_LOGGER.setLevel(logging.DEBUG)
        PROGRESS_LOGGER.propagate = False  # the events are for the bars, not for the log
        self._consoles = route_prefect_console(self.console)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        PROGRESS_LOGGER.removeHandler(self.handler)
        PROGRESS_LOGGER.setLevel(logging.NOTSET)
        PROGRESS_LOGGER.propagate = True
        for handler, console in self._consoles:
            handler.console = console
        if self.waiting is not None:
            self.progress.remove_task(self.waiting)
            self.waiting = None
        self.progress.stop()

    def on_event(self, event: ProgressEvent) -> None:
        if event.stage == "start":
            self.start_run(event)
        elif event.stage in self.rows:
            self.progress.update(self.rows[event.stage], completed=event.done)

    def start_run(self, event: ProgressEvent) -> None:
        """A run began (a benchmark runs several): new rows; the plan's counts above them."""
        if self.waiting is not None:
            self.progress.remove_task(self.waiting)
            self.waiting = None
        for row in self.rows.values():
            self.progress.update(row, visible=False)
        where = f"  {self.ui_url}/runs/flow-run/{event.run_id}" if self.ui_url and event.run_id else ""
        unchanged = event.files_seen - event.total
        self.console.print(
            f"{self.title}: {event.files_seen} files found, {event.total} to read"
            + (f" ({unchanged} unchanged or refused)" if unchanged > 0 else "")
            + where,
            highlight=False,
        )
        if event.total:
            self.rows = {stage: self.progress.add_task(label, total=event.total) for stage, label in STAGES.items()}


class _EventHandler(logging.Handler):
    def __init__(self, view: TerminalProgress) -> None:
        super().__init__(level=logging.DEBUG)
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "progress", None)
        if isinstance(event, ProgressEvent):
            self.view.on_event(event)


def prefect_console_handlers() -> list[Any]:
    """The handlers through which Prefect prints log lines on the terminal."""
    from prefect.logging.handlers import PrefectConsoleHandler

    found: list[Any] = []
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in ("prefect", *PREFECT_RUN_LOGGERS))]:
        found += [h for h in logger.handlers if isinstance(h, PrefectConsoleHandler) and all(h is not f for f in found)]
    return found


def route_prefect_console(console: Console) -> list[tuple[Any, Console]]:
    """Send Prefect's console log lines through `console`, so they print above the bars; returns what to restore."""
    routed = []
    for handler in prefect_console_handlers():
        routed.append((handler, handler.console))
        handler.console = console
    return routed


class RunLinesFilter(logging.Filter):
    """Drops Prefect's INFO lines of flow and task runs (they still reach the API and the UI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(PREFECT_RUN_LOGGERS)


def quiet_prefect_console(verbose: bool) -> None:
    """Prefect's per-run and per-task lines on the terminal only with --verbose; warnings (problem files) always.

    Call after Prefect configured its logging (importing `prefect.main` does).
    """
    if verbose:
        return
    for handler in prefect_console_handlers():
        if not any(isinstance(f, RunLinesFilter) for f in handler.filters):
            handler.addFilter(RunLinesFilter())
