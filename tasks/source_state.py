"""Incremental runs: what each input file was last time, and what this run must do with it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NONE

from newsetl.tasks.errors import ConfigurationError
from newsetl.tasks.records import (
    CHANGED_WHILE_READ,
    FAILED,
    QUARANTINED,
    RETRY_SIZE,
    UNREADABLE,
    Quarantine,
    RunSummary,
    SourceFile,
    SourceState,
)

if TYPE_CHECKING:
    from newsetl.tasks.discover import DiscoveryResult
    from newsetl.tasks.store import ArticleStore


RETRIED_REASONS = frozenset({CHANGED_WHILE_READ, UNREADABLE})


@dataclass(frozen=True)
class ChangePlan:
    """Discovered files split by what this run does with them."""

    unchanged: tuple[SourceFile, ...]
    to_read: tuple[SourceFile, ...]
    deleted: tuple[SourceState, ...]
    known: Mapping[str, SourceState] = field(default_factory=dict)


def plan_changes(
    files: Iterable[SourceFile],
    states: Mapping[str, SourceState],
    roots: Iterable[str],
    force: bool = False,
    since: float | None = None,
) -> ChangePlan:
    """Unchanged files are not read; failed ones are retried; known files now gone are deleted.

    `since` (epoch seconds) limits reading to files modified at or after it; older files that
    were never ingested are still read, so nothing is silently skipped.
    """
    unchanged: list[SourceFile] = []
    to_read: list[SourceFile] = []
    seen: set[str] = set()
    for source in files:
        seen.add(source.path)
        state = states.get(source.path)
        if state is not None and not force and state.status != FAILED and state.matches(source):
            unchanged.append(source)
        elif state is not None and since is not None and source.mtime < since and state.status != FAILED:
            unchanged.append(source)
        else:
            to_read.append(source)
    prefixes = tuple(_as_prefix(root) for root in roots)
    deleted = tuple(
        state
        for path, state in sorted(states.items())
        if path not in seen and path.startswith(prefixes) and not os.path.lexists(path)
    )
    return ChangePlan(tuple(unchanged), tuple(to_read), deleted, states)


def quarantined_state(record: Quarantine, source: SourceFile) -> SourceState:
    """The state of a file that was read and quarantined: read again when it changes (or may have)."""
    size = RETRY_SIZE if record.reason in RETRIED_REASONS else source.size
    return SourceState(record.path, size, source.mtime, "", QUARANTINED, reason=record.reason)


def refused_states(
    records: Iterable[Quarantine], previous: Mapping[str, SourceState]
) -> tuple[list[SourceState], set[str]]:
    """States of the files discovery refused, and the paths refused for the same reason last time.

    The articles a refused file held stay recorded: they lose it when it is deleted or read again.
    """
    states: list[SourceState] = []
    repeated: set[str] = set()
    for record in records:
        before = previous.get(record.path)
        if (
            before is not None
            and before.size == RETRY_SIZE
            and (before.status, before.reason) == (QUARANTINED, record.reason)
        ):
            repeated.add(record.path)
        kept_ids = before.article_ids if before is not None else ()
        states.append(SourceState(record.path, RETRY_SIZE, 0.0, "", QUARANTINED, kept_ids, record.reason))
    return states, repeated


def _as_prefix(root: str) -> str:
    root = os.path.abspath(root)
    return root if os.path.isfile(root) else root.rstrip("/") + "/"


def state_id(path: str) -> str:
    """The `_id` of a file's state document (paths can exceed Elasticsearch's 512-byte id limit)."""
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()


def group_key(group: str) -> str:
    """A short stable key for a boilerplate group, used inside block fingerprints."""
    return hashlib.blake2b(group.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()


def parse_since(since: str | None) -> float | None:
    """Epoch seconds of an ISO date or datetime (UTC when no zone is given)."""
    if not since:
        return None
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise ConfigurationError(f"since: not an ISO date or datetime: {since[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@task(name="plan", cache_policy=NONE)
def plan_run_task(
    found: DiscoveryResult, store: ArticleStore, roots: list[str], force: bool, since: str | None, summary: RunSummary
) -> ChangePlan:
    """What this run reads, leaves alone and deletes, from the file states of earlier runs."""
    with summary.timed("plan"):
        states = store.source_states(roots)
        plan = plan_changes(found.files, states, roots, force=force, since=parse_since(since))
        summary.unchanged += len(plan.unchanged)
    return plan
