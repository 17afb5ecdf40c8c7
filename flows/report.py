"""What a run shows in Prefect: a progress bar while it runs and a summary table at the end."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext

from newsetl.tasks.output import printable
from newsetl.tasks.records import RunSummary

SUMMARY_ARTIFACT_KEY = "ingest-summary"
TOP_REASONS = 5
# A terminal's progress display listens here (newsetl/progress.py); DEBUG, so nothing else shows it.
PROGRESS_LOGGER = logging.getLogger("newsetl.progress")


def in_flow_run() -> bool:
    return FlowRunContext.get() is not None


@dataclass(frozen=True)
class ProgressEvent:
    """How far a run is: `done` of `total` files through a stage (`start`: the plan; `read`; `indexed`)."""

    stage: str
    done: int
    total: int
    files_seen: int = 0
    run_id: str = ""
    run_name: str = ""


class RunProgress:
    """A run's progress: the progress artifact in Prefect, and events for a terminal on PROGRESS_LOGGER."""

    def __init__(self, files_seen: int, total_files: int) -> None:
        self.total = total_files
        self.done = {"learned": 0, "read": 0, "indexed": 0}
        self.artifact_id: UUID | None = None
        run_id = run_name = ""
        context = FlowRunContext.get()
        if context is not None and context.flow_run is not None:
            run_id, run_name = str(context.flow_run.id), context.flow_run.name
            self.artifact_id = create_progress_artifact(
                progress=0.0 if total_files else 100.0, description=f"{total_files} files to read"
            )
        self._emit(ProgressEvent("start", 0, total_files, files_seen, run_id, run_name))

    def advance(self, stage: str, files: int) -> None:
        """`files` more files went through `stage` (learned, read, indexed)."""
        self.done[stage] += files
        self._emit(ProgressEvent(stage, self.done[stage], self.total))
        if stage == "indexed" and self.artifact_id is not None and self.total:
            update_progress_artifact(self.artifact_id, progress=round(100.0 * self.done[stage] / self.total, 1))

    @staticmethod
    def _emit(event: ProgressEvent) -> None:
        PROGRESS_LOGGER.debug("%s %d/%d", event.stage, event.done, event.total, extra={"progress": event})


def summary_markdown(summary: RunSummary) -> str:
    """The run summary as markdown: contract counts, stage timings, top quarantine reasons."""
    lines = ["## newsetl run summary", "", "| count | files |", "| --- | ---: |"]
    counts = ("files_seen", "written", "unchanged", "duplicates", "near_duplicates", "quarantined", "failed", "skipped")
    for name in counts:
        lines.append(f"| {name} | {getattr(summary, name)} |")
    lines += [f"| deleted sources | {summary.deleted_sources} |", f"| articles deleted | {summary.articles_deleted} |"]
    lines += ["", f"Total: {summary.seconds:.1f} s"]
    if summary.ner:
        where = f" at {summary.ner['address']}" if summary.ner.get("address") else ""
        workers = summary.ner["workers"]
        lines += ["", f"NER executor: {summary.ner['executor']}{where}, {workers} worker processes took part"]
        if enriched := summary.ner.get("articles_enriched"):
            lines.append(
                f"Articles enriched by the workers: {enriched['on_workers']}; "
                f"by this process: {enriched['here']}"
            )
    lines += ["", "| stage | seconds |", "| --- | ---: |"]
    lines += [f"| {stage} | {seconds:.2f} |" for stage, seconds in summary.stage_seconds.items()]
    reasons = sorted(summary.quarantine_reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    if reasons:
        lines += ["", "| quarantine reason | files |", "| --- | ---: |"]
        lines += [f"| {reason} | {count} |" for reason, count in reasons]
    if summary.languages_without_ner:
        lines += ["", "| language without an NER model (indexed without entities) | articles |", "| --- | ---: |"]
        lines += [f"| {language} | {count} |" for language, count in languages_without_ner(summary)]
    if summary.skipped_by_type:
        lines += ["", "| skipped type (no article format) | files |", "| --- | ---: |"]
        lines += [f"| {kind} | {count} |" for kind, count in skipped_types(summary)]
    if not summary.is_balanced():
        lines += ["", "**Warning:** the counts do not add up to files_seen."]
    return "\n".join(lines)


def skipped_types(summary: RunSummary) -> list[tuple[str, int]]:
    """Skipped file types, the most frequent first."""
    return sorted(summary.skipped_by_type.items(), key=lambda item: (-item[1], item[0]))


def languages_without_ner(summary: RunSummary) -> list[tuple[str, int]]:
    """Languages indexed without entities (no NER model), the most frequent first."""
    return sorted(summary.languages_without_ner.items(), key=lambda item: (-item[1], item[0]))


def publish_summary(summary: RunSummary, logger: logging.Logger | logging.LoggerAdapter) -> None:
    logger.info(
        "files_seen=%d written=%d unchanged=%d duplicates=%d near_duplicates=%d quarantined=%d failed=%d skipped=%d"
        " in %.1fs",
        summary.files_seen, summary.written, summary.unchanged, summary.duplicates,
        summary.near_duplicates, summary.quarantined, summary.failed, summary.skipped, summary.seconds,
    )  # fmt: skip
    if summary.skipped:
        kinds = ", ".join(f"{kind} {count}" for kind, count in skipped_types(summary))
        logger.info("skipped %d files of no article format: %s", summary.skipped, kinds)
    if summary.languages_without_ner:
        languages = ", ".join(f"{language} {count}" for language, count in languages_without_ner(summary))
        logger.info("articles indexed without entities (no NER model for their language): %s", languages)
    for problem in summary.problem_files:
        logger.warning("%s: %s", problem["reason"], printable(problem["path"]))
    unnamed = summary.quarantined + summary.failed - len(summary.problem_files)
    if unnamed > 0:
        logger.warning("... and %d more files quarantined or failed: see the quarantine index", unnamed)
    if in_flow_run():
        create_markdown_artifact(
            key=SUMMARY_ARTIFACT_KEY, markdown=summary_markdown(summary), description="newsetl run summary"
        )
