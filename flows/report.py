"""What a run shows in Prefect: a progress bar while it runs and a summary table at the end."""

from __future__ import annotations

import logging
from uuid import UUID

from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.context import FlowRunContext

from newsetl.tasks.output import printable
from newsetl.tasks.records import RunSummary

SUMMARY_ARTIFACT_KEY = "ingest-summary"
TOP_REASONS = 5


def in_flow_run() -> bool:
    return FlowRunContext.get() is not None


def start_progress(total_files: int) -> UUID | None:
    """A progress artifact for the files this run reads (unchanged ones are not read)."""
    if not in_flow_run():
        return None
    return create_progress_artifact(progress=0.0 if total_files else 100.0, description=f"{total_files} files to read")


def publish_progress(progress_id: UUID | None, done: int, total: int) -> None:
    if progress_id is not None and total:
        update_progress_artifact(progress_id, progress=round(100.0 * done / total, 1))


def summary_markdown(summary: RunSummary) -> str:
    """The run summary as markdown: contract counts, stage timings, top quarantine reasons."""
    lines = ["## newsetl run summary", "", "| count | files |", "| --- | ---: |"]
    for name in ("files_seen", "written", "unchanged", "duplicates", "near_duplicates", "quarantined", "failed"):
        lines.append(f"| {name} | {getattr(summary, name)} |")
    lines += [f"| deleted sources | {summary.deleted_sources} |", f"| articles deleted | {summary.articles_deleted} |"]
    lines += ["", f"Total: {summary.seconds:.1f} s", "", "| stage | seconds |", "| --- | ---: |"]
    lines += [f"| {stage} | {seconds:.2f} |" for stage, seconds in summary.stage_seconds.items()]
    reasons = sorted(summary.quarantine_reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    if reasons:
        lines += ["", "| quarantine reason | files |", "| --- | ---: |"]
        lines += [f"| {reason} | {count} |" for reason, count in reasons]
    if not summary.is_balanced():
        lines += ["", "**Warning:** the counts do not add up to files_seen."]
    return "\n".join(lines)


def publish_summary(summary: RunSummary, logger: logging.Logger | logging.LoggerAdapter) -> None:
    logger.info(
        "files_seen=%d written=%d unchanged=%d duplicates=%d near_duplicates=%d quarantined=%d failed=%d in %.1fs",
        summary.files_seen, summary.written, summary.unchanged, summary.duplicates,
        summary.near_duplicates, summary.quarantined, summary.failed, summary.seconds,
    )  # fmt: skip
    for problem in summary.problem_files:
        logger.warning("%s: %s", problem["reason"], printable(problem["path"]))
    unnamed = summary.quarantined + summary.failed - len(summary.problem_files)
    if unnamed > 0:
        logger.warning("... and %d more files quarantined or failed: see the quarantine index", unnamed)
    if in_flow_run():
        create_markdown_artifact(
            key=SUMMARY_ARTIFACT_KEY, markdown=summary_markdown(summary), description="newsetl run summary"
        )
