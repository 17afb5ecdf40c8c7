"""The `newsetl` command line (README, "Command reference"): errors end as one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date, datetime
from typing import Any, NoReturn

from newsetl.config.settings import RANGES, Settings, SettingsError, load_settings
from newsetl.tasks.errors import NewsetlError
from newsetl.tasks.output import json_text, printable

# Bounds of arguments checked while parsing, before any work starts.
SEARCH_LIMIT_MAX = 10_000  # Elasticsearch's index.max_result_window
QUERY_MAX_CHARS = 2_000
FILTER_MAX_CHARS = 200  # an entity name; longer ones are a mistake (and would exceed term limits)

# Exit status (README, "Exit status"): 0 completed (quarantined or skipped files included), 3 completed
# with `failed` files (the next run retries them), 1 could not run (a bad argument or setting included).
EXIT_FAILED_FILES = 3


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if os.environ.get("PREFECT_API_URL", None) == "":
        # NOTE: an empty PREFECT_API_URL is not "unset" for Prefect: its event worker fails on it.
        del os.environ["PREFECT_API_URL"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        # `newsetl es` without an action shows the help of `es`, not of newsetl.
        getattr(args, "help_of", parser).print_help()
        return 2
    args.started = started
    try:
        settings = load_settings()
        return args.handler(args, settings) or 0
    except (NewsetlError, SettingsError) as error:
        print(f"newsetl: {one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("newsetl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left early (`newsetl search climate | head`): nothing to say, as other tools do.
        # Python's own flush of stdout at exit would fail again, so stdout goes nowhere from here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:  # noqa: BLE001 - a user sees one line; NEWSETL_TRACEBACK=1 shows the rest
        if os.environ.get("NEWSETL_TRACEBACK"):
            raise
        if type(error).__module__.split(".")[0] in {"elasticsearch", "elastic_transport"}:
            # The Elasticsearch client's own errors (a 4xx on what the user asked) as a sentence.
            reason = one_line(elasticsearch_reason(error))
            print(f"newsetl: Elasticsearch refused the request: {reason}", file=sys.stderr)
            return 1
        reason = (str(error).strip().splitlines() or [""])[0]
        name = type(error).__name__
        print(f"newsetl: {name}: {one_line(reason)}" if reason else f"newsetl: {name}", file=sys.stderr)
        return 1


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the usage is one `--help` away) and the contract's exit status 1.

    `dash_words`: a token such as `-word` that is no option of this parser is a positional word (a
    search's exclusion), where argparse would refuse it as an unknown option.
    """

    def __init__(self, *args: Any, dash_words: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dash_words = dash_words

    def _parse_optional(self, arg_string: str) -> Any:
        # NOTE: argparse's hook for "is this token an option?"; None means a positional.
        if self.dash_words and is_dash_word(arg_string) and arg_string not in self._option_string_actions:
            return None
        return super()._parse_optional(arg_string)

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {one_line(message)} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(1)


def is_dash_word(token: str) -> bool:
    """`-word`, `-"a phrase"`: one dash, then no dash (`--limit` is an option, `-` alone a positional)."""
    return len(token) > 1 and token[0] == "-" and token[1] != "-"


class QueryWords(argparse.Action):
    """The query's words as one string (`newsetl search climate -tesla`), at most `max_chars` long."""

    def __init__(self, *args: Any, max_chars: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_chars = max_chars

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, *_: Any) -> None:
        query = values if isinstance(values, str) else " ".join(values)
        if len(query) > self.max_chars:
            raise argparse.ArgumentError(self, f"longer than {self.max_chars} characters ({len(query)})")
        setattr(namespace, self.dest, query)


def one_line(error: object) -> str:
    text = " ".join(printable(str(error)).split())
    return text if len(text) <= 400 else text[:397] + "..."


def elasticsearch_reason(error: Exception) -> str:
    info = getattr(error, "info", None)
    cause = info.get("error") if isinstance(info, dict) else None
    if isinstance(cause, dict):
        root = (cause.get("root_cause") or [cause])[0]
        return f"{getattr(error, 'status_code', '')} {root.get('type', '')}: {root.get('reason', '')}".strip()
    return f"{type(error).__name__}: {error}"


# --- argument types: a bad value is refused while parsing, with the reason -------------------------


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({low} to {high})")
        return value

    return whole_number


def setting_int(section: str, key: str) -> Callable[[str], int]:
    """An argument overriding a numeric setting: the setting's own range."""
    low, high = RANGES[(section, key)]
    return bounded_int(int(low), int(high))


def bounded_text(max_chars: int) -> Callable[[str], str]:
    def text(value: str) -> str:
        if len(value) > max_chars:
            raise argparse.ArgumentTypeError(f"longer than {max_chars} characters ({len(value)})")
        return value

    return text


def iso_date(text: str) -> str:
    """An ISO date (2023-01-05) or datetime, as Elasticsearch's date range takes it."""
    try:
        return date.fromisoformat(text).isoformat() if len(text) <= 10 else datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text[:40]!r}") from None


def iso_moment(text: str) -> str:
    """An ISO date or datetime (UTC when no zone is given)."""
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {text[:40]!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="newsetl",
        description=(
            "Folders of news articles into a clean, deduplicated, entity- and date-enriched Elasticsearch index."
        ),
        epilog=(
            "Settings: config/settings.toml, overridden by NEWSETL_* environment variables (see README). "
            "Exit status: 0 done, 3 done but some files failed (the next run retries them), "
            "1 error (a bad argument included)."
        ),
    )
    commands = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, help_text: str, description: str = "", **kwargs: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=description or sentence(help_text), **kwargs)

    es = command(
        "es", "the local single-node Elasticsearch (no Docker)",
        "The local single-node Elasticsearch on 127.0.0.1 at the port of NEWSETL_ES_URL (no Docker).",
    )  # fmt: skip
    es.set_defaults(help_of=es)
    es_commands = es.add_subparsers(metavar="ACTION")
    for name, handler, help_text in (
        ("start", es_start, "start it and wait until healthy (no-op when running)"),
        ("stop", es_stop, "stop it"),
        ("status", es_status, "show whether it runs and how healthy it is"),
    ):
        action = es_commands.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:] + ".")
        action.add_argument("--json", action="store_true", help="print one JSON object")
        action.set_defaults(handler=handler)

    up = command(
        "up", "start the local installation in the background: Elasticsearch, Prefect server + UI, runner",
        "Start, in the background, what a local installation needs: the local Elasticsearch (unless one answers at "
        "NEWSETL_ES_URL), a Prefect server with its UI (SQLite under [services] home) and the deployments runner "
        "(`newsetl serve`). Returns once all answer. Safe to repeat. `newsetl down` stops it all.",
    )  # fmt: skip
    up.add_argument(
        "--json", action="store_true", help="print one JSON object (prefect_api_url, prefect_ui_url, es_url)"
    )
    up.set_defaults(handler=up_command)
    down = command("down", "stop what `newsetl up` started, and nothing else")
    down.add_argument("--json", action="store_true", help="print one JSON object")
    down.set_defaults(handler=down_command)
    status = command("status", "show the services, the index's article and quarantine counts, and the last runs")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=status_command)

    cluster = command(
        "cluster", "a local Dask scheduler and workers, for trying scale-out",
        "A local Dask scheduler and N worker processes (the `dask` CLI of `distributed`), in the background, "
        "for trying scale-out on one machine. Point runs at it with NEWSETL_DASK_ADDRESS.",
    )  # fmt: skip
    cluster.set_defaults(help_of=cluster)
    cluster_commands = cluster.add_subparsers(metavar="ACTION")
    for name, handler, help_text in (
        ("start", cluster_start_command, "start a scheduler and N worker processes (no-op when they run)"),
        ("stop", cluster_stop_command, "stop what `cluster start` started"),
        ("status", cluster_status_command, "the scheduler's address and its workers"),
    ):
        action = cluster_commands.add_parser(name, help=help_text, description=sentence(help_text))
        if name == "start":
            action.add_argument(
                "--workers", type=int, help="worker processes (default: [cluster] workers, or one per CPU)"
            )
        action.add_argument("--json", action="store_true", help="print one JSON object")
        action.set_defaults(handler=handler)

    run = command(
        "run", "run the ingest flow once into Elasticsearch",
        "Run the ingest flow once into Elasticsearch, on the Prefect API of `newsetl up` or PREFECT_API_URL "
        "(else a temporary one). Exit status 0 when done, 3 when some files failed (retried by the next run).",
    )  # fmt: skip
    add_input_arguments(run)
    run.add_argument("--force", action="store_true", help="re-read files even when unchanged")
    run.add_argument("--since", type=iso_moment, help="only re-read files modified at or after this ISO date/time")
    run.add_argument("--dry-run", action="store_true", help="do everything but write to Elasticsearch")
    run.add_argument(
        "--batch-size", type=setting_int("flow", "batch_size"), help="files per batch (default: [flow] batch_size)"
    )
    run.set_defaults(handler=run_command)

    process = command(
        "process", "the same pipeline without Elasticsearch, to JSON lines",
        "The ingest pipeline without Elasticsearch: one article document per line to --output, quarantine "
        "records to OUTPUT.quarantine.jsonl.",
    )  # fmt: skip
    add_input_arguments(process)
    process.add_argument(
        "--output", "-o", required=True, help="articles as JSON lines (quarantine: FILE.quarantine.jsonl)"
    )
    process.set_defaults(handler=process_command)

    search = command(
        "search", "full-text search with filters",
        "Full-text search: words ANDed, \"phrases\", OR, -word; filters by entity and publication date.",
        dash_words=True,  # `newsetl search -tesla climate`: -tesla is a word to exclude, not an option
    )  # fmt: skip
    search.add_argument(
        "query", nargs="*", default="", action=QueryWords, max_chars=QUERY_MAX_CHARS,
        help='words to look for (ANDed; "phrases", OR, -word)',
    )  # fmt: skip
    entity = bounded_text(FILTER_MAX_CHARS)
    naming = (("--person", "this person (repeatable)"), ("--org", "this organization"), ("--place", "this place"))
    for option, what in naming:
        search.add_argument(
            option, action="append", default=[], type=entity,
            help=f"only articles naming {what}: any case or accents, aliases, a surname alone",
        )  # fmt: skip
    search.add_argument("--from", dest="date_from", type=iso_date, help="published on or after (ISO date)")
    search.add_argument("--to", dest="date_to", type=iso_date, help="published on or before (ISO date)")
    limit = bounded_int(0, SEARCH_LIMIT_MAX)
    search.add_argument(
        "--limit", type=limit, default=10, help=f"how many hits to show (0 to {SEARCH_LIMIT_MAX}; default 10)"
    )
    search.add_argument("--all", action="store_true", help="include near-duplicates, not only canonical articles")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    search.set_defaults(handler=search_command)

    rebuild = command("rebuild", "build the next index version and switch the alias to it")
    rebuild.add_argument(
        "paths", nargs="*", metavar="PATH", help="ingest these again into the new version (default: copy documents)"
    )
    rebuild.add_argument("--delete-old", action="store_true", help="delete the previous version once the alias moved")
    rebuild.add_argument("--json", action="store_true", help="print one JSON object")
    add_display_arguments(rebuild)
    rebuild.set_defaults(handler=rebuild_command)

    kibana = command("kibana", "Kibana saved objects (data views, saved search, dashboard)")
    kibana.set_defaults(help_of=kibana)
    kibana_commands = kibana.add_subparsers(metavar="ACTION")
    kibana_import = kibana_commands.add_parser(
        "import", help="import the data views, saved search and dashboard into KIBANA_URL",
        description="Import (overwriting) the data views, saved search and dashboard into the Kibana at KIBANA_URL.",
    )  # fmt: skip
    kibana_import.add_argument("--json", action="store_true", help="print one JSON object")
    kibana_import.set_defaults(handler=kibana_import_command)

    bench = command("bench", "the performance benchmark (against the local node)",
                    "The performance benchmark: a generated corpus through the ingest flow into a throw-away alias, "
                    "against bare NER on the same texts.")  # fmt: skip
    articles = setting_int("bench", "articles")
    bench.add_argument("--articles", type=articles, help="articles in the generated corpus (default: [bench] articles)")
    bench.add_argument(
        "--dask",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="also run on Dask: the scheduler at ADDRESS or NEWSETL_DASK_ADDRESS, else a local one (a worker per CPU)",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    add_display_arguments(bench)
    bench.set_defaults(handler=bench_command)

    serve = command(
        "serve", "register the nightly/manual/rebuild deployments with Prefect and run them (foreground)",
        "Register the deployments (ingest/nightly on the configured cron, ingest/manual, rebuild/rebuild) with the "
        "Prefect API at PREFECT_API_URL and run them when due, until stopped. `newsetl up` runs it in the background.",
    )  # fmt: skip
    serve.set_defaults(handler=serve_command)

    return parser


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folders (recursive) or files")
    parser.add_argument("--include", action="append", help="glob pattern of files to take (repeatable)")
    parser.add_argument("--exclude", action="append", help="glob pattern of files to leave out (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    add_display_arguments(parser)


def add_display_arguments(parser: argparse.ArgumentParser) -> None:
    display = parser.add_mutually_exclusive_group()
    display.add_argument(
        "--quiet", "-q", action="store_true", help="no progress display (none either when stderr is no terminal)"
    )
    display.add_argument(
        "--verbose", "-v", action="store_true", help="also show Prefect's line for every flow and task run"
    )


def existing_paths(paths: Sequence[str]) -> list[str]:
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise NewsetlError(f"no such file or folder: {', '.join(missing)}")
    return [os.path.abspath(path) for path in paths]


def emit(result: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    """Print a result for people, or as one JSON object on the last line for scripts."""
    print(json_text(result) if as_json else printable(render(result)), flush=True)


# --- newsetl es ---------------------------------------------------------------------------------


def es_start(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import local_es

    node = local_es.start(settings.es, settings.local_es)
    emit(node.__dict__, args.json, lambda n: f"Elasticsearch {n['version']} is {n['health']} at {n['url']}")
    return 0


def es_stop(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import local_es

    stopped = local_es.stop(settings.es, settings.local_es)
    emit({"stopped": stopped}, args.json, lambda r: "stopped" if r["stopped"] else "the local node was not running")
    return 0


def es_status(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import local_es

    node = local_es.status(settings.es, settings.local_es)

    def render(n: dict[str, Any]) -> str:
        if n["health"]:
            who = f"local node, pid {n['pid']}" if n["running"] else n["detail"]
            return f"Elasticsearch {n['version']} is {n['health']} at {n['url']} ({who})"
        return f"not answering at {n['url']}" + (f": {n['detail']}" if n["detail"] else "")

    emit(node.__dict__, args.json, render)
    return 0 if node.health else 3




# --- newsetl up / down / status ------------------------------------------------------------------


def up_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import services

    result = services.up(settings)
    emit(result, args.json, render_up)
    return 0


def render_up(result: dict[str, Any]) -> str:
    ui = result["prefect_ui_url"]
    return "\n".join([
        f"Prefect UI:    {ui}",
        f"Elasticsearch: {result['es_url']}",
        f"Runs by hand:  {ui}/deployments → ingest / manual → Run → Custom run (set folders)",
        "`newsetl run PATH` now runs on this server (its runs show in the UI); `newsetl down` stops it all.",
    ])  # fmt: skip


def down_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import services

    result = services.down(settings)
    emit(result, args.json, render_down)
    return 0


def render_down(result: dict[str, Any]) -> str:
    return f"stopped: {', '.join(result['stopped'])}" if result["stopped"] else "nothing of `newsetl up` was running"


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import services

    result = services.status(settings)
    emit(result, args.json, render_status)
    return 0


def render_status(result: dict[str, Any]) -> str:
    es, server, runner, index = result["elasticsearch"], result["prefect_server"], result["runner"], result["index"]
    by_up = " (started by up)" if es["started_by_up"] else ""
    where = f" at {server['ui_url']}" if server["url"] else " (no `newsetl up`, no PREFECT_API_URL)"
    lines = [
        f"elasticsearch  {es['health'] or 'not answering'} at {es['url']}{by_up}",
        f"prefect server {'up' if server['healthy'] else 'not answering'}{where}",
        "runner         " + (f"serving (pid {runner['pid']})" if runner["pid"] else "not running"),
    ]
    if index:
        articles = index["articles"] or 0  # None: no index yet
        lines.append(f"index          {index['alias']}: {articles} articles, {index['quarantined'] or 0} quarantined")
    if server["healthy"]:
        lines.append(f"run by hand    {server['ui_url']}/deployments → ingest / manual → Run → Custom run")
    if result["last_runs"]:
        lines.append("last runs:")
        for run in result["last_runs"]:
            where = f"{run['flow']}/{run['deployment']}" if run["deployment"] else f"{run['flow']} (command line)"
            started = (run["start_time"] or "")[:19]
            lines.append(f"  {started}  {run['state']:<10} {where}  {run['name']}  {run['seconds']}s")
    return "\n".join(lines)
# --- newsetl cluster ----------------------------------------------------------------------------


def cluster_start_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import cluster

    state = cluster.start(settings.cluster, workers=args.workers)
    emit({**state.__dict__, "running": state.running}, args.json, lambda _: state.describe())
    return 0


def cluster_stop_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import cluster

    stopped = cluster.stop(settings.cluster)
    emit({"stopped": stopped}, args.json, lambda r: "stopped" if r["stopped"] else "no local Dask cluster was running")
    return 0


def cluster_status_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl import cluster

    state = cluster.status(settings.cluster)
    emit({**state.__dict__, "running": state.running}, args.json, lambda _: state.describe())
    return 0 if state.running else 3


# --- newsetl run / process ----------------------------------------------------------------------


def render_summary(summary: dict[str, Any]) -> str:
    counts = ("files_seen", "written", "unchanged", "duplicates", "near_duplicates", "quarantined", "failed", "skipped")
    line = "  ".join(f"{name}={summary.get(name, 0)}" for name in counts)
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(summary.get("quarantine_reasons", {}).items()))
    text = f"{line}  in {summary['wall_seconds']:.1f}s (pipeline {summary['seconds']:.1f}s)"
    if summary.get("deleted_sources"):
        text += f"\ndeleted sources: {summary['deleted_sources']}, articles deleted: {summary['articles_deleted']}"
    if summary.get("failed"):
        text += f"\nfailed: {summary['failed']} files (transient errors; the next run reads them again)"
    if summary.get("languages_without_ner"):
        text += f"\nwithout entities (no NER model for the language): {languages_without_ner(summary)}"
    skipped = ", ".join(f"{k}: {v}" for k, v in sorted(summary.get("skipped_by_type", {}).items()))
    return text + (f"\nquarantined: {reasons}" if reasons else "") + (f"\nskipped: {skipped}" if skipped else "")


def languages_without_ner(summary: dict[str, Any]) -> str:
    """Languages indexed without entities, as "de: 350 articles, es: 27 articles" (the most frequent first)."""
    counts = sorted(summary["languages_without_ner"].items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{language}: {count} article{'s' * (count != 1)}" for language, count in counts)


def exit_status(summary: dict[str, Any]) -> int:
    return EXIT_FAILED_FILES if summary.get("failed") else 0


def with_wall_time(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The command's wall time: Prefect's start-up and imports included, which `seconds` (the pipeline's) leaves out."""
    return {**result, "wall_seconds": round(time.monotonic() - args.started, 3)}


@contextmanager
def flow_session(args: argparse.Namespace, settings: Settings, title: str) -> Iterator[None]:
    """What a command that runs flows in this process needs: a Prefect API, quiet logs, progress on a terminal.

    The API: PREFECT_API_URL, else the server of `newsetl up`, else a temporary one that is a
    child of this process and dies with it.
    """
    from newsetl import services

    api_url = os.environ.get("PREFECT_API_URL") or services.prefect_api_url(settings)
    timeout = settings.services.start_timeout
    temporary = services.temporary_prefect_api(timeout) if api_url is None else nullcontext(api_url)
    previous = os.environ.get("PREFECT_API_URL")
    with temporary as url:
        os.environ["PREFECT_API_URL"] = url
        import prefect.main  # noqa: F401 - configures Prefect's logging, which the console settings below adjust
        from prefect.logging.handlers import APILogHandler
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from newsetl.progress import TerminalProgress, quiet_prefect_console

        quiet_prefect_tracebacks()
        quiet_prefect_console(args.verbose)
        show = not args.quiet and sys.stderr.isatty()
        ui_url = url.removesuffix("/api") if api_url else None  # a temporary server has no UI
        try:
            display = TerminalProgress(title, ui_url) if show else nullcontext()
            with temporary_settings(updates={PREFECT_API_URL: url}), display:
                yield
        finally:
            APILogHandler().flush()  # the run's last log lines, while the API still answers
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    paths = existing_paths(args.paths)
    with flow_session(args, settings, "run"):
        from newsetl.flows.ingest import ingest

        summary = ingest(
            folders=paths, include=args.include, exclude=args.exclude, since=args.since,
            force=args.force, dry_run=args.dry_run, batch_size=args.batch_size,
        )  # fmt: skip
    summary = with_wall_time(summary, args)
    emit(summary, args.json, render_summary)
    return exit_status(summary)


def process_command(args: argparse.Namespace, settings: Settings) -> int:
    paths = existing_paths(args.paths)
    output = writable_output(args.output)
    writable_output(output + ".quarantine.jsonl")
    with flow_session(args, settings, "process"):
        from newsetl.flows.ingest import process

        summary = process(folders=paths, output=output, include=args.include, exclude=args.exclude)
    summary = with_wall_time(summary, args)
    emit(summary, args.json, render_summary)
    return exit_status(summary)


def writable_output(path: str) -> str:
    """The absolute path of an output file that can be written, checked before any work starts."""
    absolute = os.path.abspath(path)
    if os.path.isdir(absolute):
        raise NewsetlError(f"--output {path}: is a folder; give a file name")
    existed = os.path.lexists(absolute)
    try:
        os.makedirs(os.path.dirname(absolute), exist_ok=True)
        with open(absolute, "a", encoding="utf-8"):
            pass
    except OSError as error:
        raise NewsetlError(f"--output {path}: cannot write there ({error.strerror or error})") from None
    if not existed:
        os.remove(absolute)
    return absolute


def quiet_prefect_tracebacks() -> None:
    """Prefect logs a failing task's traceback; for newsetl's own errors the one-line reason is enough."""
    import logging

    make_record = logging.getLogRecordFactory()

    def record_without_own_traceback(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.exc_info and isinstance(record.exc_info[1], NewsetlError):
            record.msg = f"{record.getMessage().splitlines()[0]}"
            record.args = ()
            record.exc_info = None
        return record

    logging.setLogRecordFactory(record_without_own_traceback)
    # Our retry loop says what failed and when it retries; the transport's own warnings repeat it.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)


# --- newsetl search -----------------------------------------------------------------------------


def search_command(args: argparse.Namespace, settings: Settings) -> int:
    from elasticsearch import NotFoundError

    from newsetl.tasks.es.client import connect
    from newsetl.tasks.search import SearchRequest, search_articles

    if args.date_from and args.date_to and args.date_from[:10] > args.date_to[:10]:
        raise NewsetlError(f"--from {args.date_from} is after --to {args.date_to}: no article can be both")
    for option, values in (("--person", args.person), ("--org", args.org), ("--place", args.place)):
        if any(not value.strip() for value in values):
            raise NewsetlError(f"{option} needs a name (it was empty)")
    request = SearchRequest(
        query=args.query, persons=tuple(args.person), organizations=tuple(args.org), locations=tuple(args.place),
        date_from=args.date_from, date_to=args.date_to, limit=args.limit, include_duplicates=args.all,
    )  # fmt: skip
    client = connect(settings.es)
    try:
        result = search_articles(client, settings.es, request)
    except NotFoundError:
        raise NewsetlError(
            f"no index '{settings.es.index}' yet at {settings.es.url}: run `newsetl run PATH` first"
        ) from None
    finally:
        client.close()
    as_dict = {
        "total": result.total,
        "hits": [hit.__dict__ for hit in result.hits],
        "facets": {name: [{"key": k, "count": n} for k, n in buckets] for name, buckets in result.facets.items()},
    }
    emit(as_dict, args.json, render_search)
    return 0


def render_search(result: dict[str, Any]) -> str:
    lines = [f"{result['total']} {'article' if result['total'] == 1 else 'articles'}"]
    for number, hit in enumerate(result["hits"], 1):
        lines.append(f"\n{number}. {hit['title'] or '(no title)'}  ({hit['id'][:12]})")
        day = (hit["published_at"] or "no date")[:10]
        if hit.get("published_at_source") == "file_mtime":
            day += " (the file's date: the article states none)"
        byline = [hit["site_name"], hit["author"] and f"by {hit['author']}", day]
        lines.append("   " + " · ".join(part for part in byline if part))
        lines += [f"   ...{strip_tags(snippet, keep_marks=True)}..." for snippet in hit["snippets"]]
        people = ", ".join(hit["persons"][:5])
        if people:
            lines.append(f"   persons: {people}")
        copies = len(hit["sources"]) - 1
        more = f" (+{copies} {'copy' if copies == 1 else 'copies'})" if copies else ""
        lines.append(f"   {hit['url'] or (hit['sources'][0] if hit['sources'] else '-')}{more}")
    for name, buckets in result["facets"].items():
        if buckets:
            lines.append(f"\ntop {name}: " + ", ".join(f"{b['key']} ({b['count']})" for b in buckets[:8]))
    return "\n".join(lines)


def strip_tags(text: str, keep_marks: bool = False) -> str:
    if keep_marks:
        return text.replace("<em>", "*").replace("</em>", "*").replace("\n", " ")
    return text.replace("<em>", "").replace("</em>", "").replace("\n", " ")


def render_rebuild(result: dict[str, Any], alias: str) -> str:
    new, old, seconds = result["new_index"], result["old_index"], result["wall_seconds"]
    return f"alias {alias} now points to {new} (was {old}) in {seconds:.1f}s"


def rebuild_command(args: argparse.Namespace, settings: Settings) -> int:
    paths = existing_paths(args.paths) if args.paths else None
    with flow_session(args, settings, "rebuild"):
        from newsetl.flows.rebuild import rebuild

        result = rebuild(folders=paths, delete_old=args.delete_old)
    result = with_wall_time(result, args)
    emit(result, args.json, lambda r: render_rebuild(r, settings.es.index))
    return exit_status(result)


# --- newsetl kibana import ----------------------------------------------------------------------


def kibana_import_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl.kibana import import_saved_objects

    result = import_saved_objects(settings.kibana, settings.es.index)
    emit(result.as_dict(), args.json, lambda _: result.summary())
    return 0


# --- newsetl bench ------------------------------------------------------------------------------


def bench_command(args: argparse.Namespace, settings: Settings) -> int:
    from newsetl.bench import render_benchmark, run_benchmark

    with flow_session(args, settings, "bench"):
        result = run_benchmark(settings, articles=args.articles, dask=args.dask)
    emit(result, args.json, render_benchmark)
    return 0


# --- newsetl serve ------------------------------------------------------------------------------


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        raise NewsetlError(
            "PREFECT_API_URL is not set: start a Prefect server (`prefect server start`) and point to its /api"
        )
    # Flow runs are subprocesses of this one: newsetl's own warnings (retries, refused documents)
    # reach the run's logs in the UI only when Prefect forwards the `newsetl` loggers.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "newsetl")
    from prefect import serve
    from prefect.client.orchestration import get_client

    from newsetl.flows.deployments import ONE_AT_A_TIME, build_deployments

    with get_client(sync_client=True) as client:
        unhealthy = client.api_healthcheck()
    if unhealthy is not None:
        raise NewsetlError(f"no Prefect API at {api_url}: {type(unhealthy).__name__}: {unhealthy}")
    deployments = build_deployments(settings)
    print(f"newsetl: serving {', '.join(d.name for d in deployments)} at {api_url}", flush=True)
    # Each deployment allows one run at a time; the runner's limit also keeps a manual run from
    # overlapping the nightly one (or a rebuild): they all write the same alias.
    serve(*deployments, limit=ONE_AT_A_TIME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
