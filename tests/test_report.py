"""What a run shows in Prefect: the summary table, and no artifacts outside a flow run."""

from __future__ import annotations

from newsetl.flows.report import RunProgress, summary_markdown
from newsetl.tasks.records import RunSummary


def a_summary(**changes) -> RunSummary:
    summary = RunSummary(
        files_seen=12, written=6, unchanged=2, duplicates=1, near_duplicates=2, quarantined=3, seconds=4.3
    )
    summary.stage_seconds = {"extract": 0.5, "enrich": 2.25}
    summary.quarantine_reasons = {"empty": 1, "binary": 2}
    for name, value in changes.items():
        setattr(summary, name, value)
    return summary


def test_summary_table_has_every_contract_count_and_the_stage_timings():
    markdown = summary_markdown(a_summary())
    for row in ("| files_seen | 12 |", "| written | 6 |", "| unchanged | 2 |", "| duplicates | 1 |",
                "| near_duplicates | 2 |", "| quarantined | 3 |", "| failed | 0 |"):  # fmt: skip
        assert row in markdown
    assert "| extract | 0.50 |" in markdown and "| enrich | 2.25 |" in markdown
    assert "Total: 4.3 s" in markdown
    assert "Warning" not in markdown


def test_quarantine_reasons_are_the_five_most_frequent_most_first():
    reasons = {"empty": 1, "binary": 7, "no_text": 3, "too_large": 2, "decode_error": 3, "unreadable": 1}
    markdown = summary_markdown(a_summary(quarantined=17, files_seen=26, quarantine_reasons=reasons))
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and line.split(" | ")[0][2:] in reasons]
    assert rows == [
        "| binary | 7 |", "| decode_error | 3 |", "| no_text | 3 |", "| too_large | 2 |", "| empty | 1 |",
    ]  # fmt: skip


def test_counts_that_do_not_add_up_are_flagged():
    assert "do not add up" in summary_markdown(a_summary(written=5))


def test_outside_a_flow_run_there_is_no_progress_artifact():
    progress = RunProgress(files_seen=10, total_files=10)
    assert progress.artifact_id is None
    progress.advance("indexed", 5)  # a no-op for Prefect, not an error


def test_summary_table_counts_the_articles_of_languages_without_an_ner_model():
    markdown = summary_markdown(a_summary(languages_without_ner={"es": 2, "de": 5}))
    assert markdown.index("| de | 5 |") < markdown.index("| es | 2 |")
    assert "without an NER model" not in summary_markdown(a_summary())
