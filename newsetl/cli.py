"""The `newsetl` command line (see CONTRACT.md): errors end as one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Sequence

from config.settings import Settings, SettingsError, load_settings
from tasks.errors import NewsetlError


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
        return args.handler(args, settings) or 0
    except (NewsetlError, SettingsError) as error:
        print(f"newsetl: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("newsetl: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsetl", description=__doc__)
    commands = parser.add_subparsers(metavar="COMMAND")

    es = commands.add_parser("es", help="the local single-node Elasticsearch (no Docker)")
    es_commands = es.add_subparsers(metavar="ACTION")
    for name, handler, help_text in (
        ("start", es_start, "start it and wait until healthy (no-op when running)"),
        ("stop", es_stop, "stop it"),
        ("status", es_status, "show whether it runs and how healthy it is"),
    ):
        action = es_commands.add_parser(name, help=help_text)
        action.add_argument("--json", action="store_true", help="print one JSON object")
        action.set_defaults(handler=handler)

    return parser


def emit(result: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    """Print a result for people, or as one JSON object on the last line for scripts."""
    print(json.dumps(result, ensure_ascii=False) if as_json else render(result), flush=True)


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


if __name__ == "__main__":
    sys.exit(main())
