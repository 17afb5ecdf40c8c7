"""Bad arguments and settings: a one-line reason and exit status 1 before any work (no Prefect, no Elasticsearch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Runs the command line in a fresh interpreter and reports whether Prefect was imported: a bad
# argument must be refused before anything starts.
PROBE = """
import json, sys
from newsetl.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "prefect": "prefect" in sys.modules}))
"""


def newsetl_probe(*args: str, **env: str) -> tuple[dict, list[str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSETL_")}
    # Nothing must be contacted: an unreachable Elasticsearch would only show after retries.
    environ.update(NEWSETL_ES_URL="http://127.0.0.1:9", NEWSETL_ES_MAX_RETRIES="0", **env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, env=environ, cwd=REPO
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("search", "--from", "notadate", "x"), "argument --from: not an ISO date"),
        (("search", "--to", "2023-13-45"), "argument --to: not an ISO date"),
        (("search", "--limit", "-1"), "argument --limit: -1 is out of range"),
        (("search", "--limit", "100000"), "argument --limit: 100000 is out of range"),
        (("search", "--limit", "ten"), "argument --limit: not a whole number"),
        (("search", "--person", "x" * 40_000), "argument --person: longer than 200 characters"),
        (("search", "q" * 5_000), "longer than 2000 characters"),
        (("search", "--from", "2020-01-01", "--to", "2019-01-01"), "--from 2020-01-01 is after --to 2019-01-01"),
        (("search", "--person", " ", "x"), "--person needs a name"),
        (("run", "--since", "junk", "."), "argument --since: not an ISO date or datetime"),
        (("run", "--batch-size", "0", "."), "argument --batch-size: 0 is out of range"),
        (("run", "--batch-size", "-5", "."), "argument --batch-size: -5 is out of range"),
        (("bench", "--articles", "0"), "argument --articles: 0 is out of range"),
        (("run", "/no/such/folder"), "no such file or folder: /no/such/folder"),
        (("process", ".", "--output", "/"), "--output /: is a folder"),
        (
            ("process", ".", "--output", "/proc/newsetl/out.jsonl"),
            "--output /proc/newsetl/out.jsonl: cannot write there",
        ),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_a_bad_argument_is_one_line_before_any_work(args, says):
    result, stderr = newsetl_probe(*args)
    assert result == {"code": 1, "prefect": False}
    assert len(stderr) <= 2 and says in stderr[-1] and "Traceback" not in "\n".join(stderr)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"NEWSETL_INDEX": "ADVUP"}, "NEWSETL_INDEX: invalid index name 'ADVUP': it must be lowercase"),
        ({"NEWSETL_INDEX": "my articles"}, "NEWSETL_INDEX: invalid index name 'my articles'"),
        ({"NEWSETL_FLOW_BATCH_SIZE": "-1"}, "NEWSETL_FLOW_BATCH_SIZE: -1 is out of range"),
        ({"NEWSETL_FLOW_BATCH_SIZE": "0"}, "NEWSETL_FLOW_BATCH_SIZE: 0 is out of range"),
        ({"NEWSETL_FLOW_BATCHSIZE": "5"}, "did you mean NEWSETL_FLOW_BATCH_SIZE?"),
    ],
)
def test_a_bad_setting_is_one_line_before_any_work(env, says, tmp_path):
    for args in (("run", str(tmp_path)), ("search", "harbour")):
        result, stderr = newsetl_probe(*args, **env)
        assert result == {"code": 1, "prefect": False}, args
        assert len(stderr) == 1 and says in stderr[0]


def test_good_arguments_are_normalised_for_elasticsearch():
    from newsetl.cli import build_parser

    args = build_parser().parse_args(
        ["search", "--from", "20230105", "--to", "2023-02-01T10:00:00+02:00", "--limit", "0"]
    )
    assert (args.date_from, args.date_to, args.limit) == ("2023-01-05", "2023-02-01T10:00:00+02:00", 0)
    run = build_parser().parse_args(["run", ".", "--since", "2024-01-01", "--batch-size", "7"])
    assert (run.since, run.batch_size) == ("2024-01-01T00:00:00", 7)


def test_a_bad_run_parameter_from_the_prefect_ui_is_refused_like_a_setting():
    from newsetl.config.settings import SettingsError, load_settings
    from newsetl.flows.ingest import run_settings
    from newsetl.tasks.errors import ConfigurationError
    from newsetl.tasks.source_state import parse_since

    with pytest.raises(SettingsError, match="flow.batch_size: 0 is out of range"):
        run_settings(load_settings({}), None, None, 0)
    with pytest.raises(ConfigurationError, match="since: not an ISO date or datetime: 'junk'"):
        parse_since("junk")


@pytest.mark.parametrize(
    ("argv", "query"),
    [
        (["search", "-tesla", "climate"], "-tesla climate"),  # an exclusion first, no `--` needed
        (["search", "climate", "-tesla"], "climate -tesla"),
        (["search", "-hotels"], "-hotels"),  # not read as -h with a value
        (["search", "climate change", "OR", "-tesla"], "climate change OR -tesla"),
        (["search", "--", "-tesla"], "-tesla"),  # the old way still works
        (["search"], ""),
    ],
)
def test_search_words_may_start_with_a_dash(argv, query):
    from newsetl.cli import build_parser

    assert build_parser().parse_args(argv).query == query


def test_search_options_still_work_next_to_dash_words():
    from newsetl.cli import build_parser

    args = build_parser().parse_args(["search", "--person", "biden", "-tesla", "cars", "--limit", "3", "--json"])
    assert (args.query, args.person, args.limit, args.json) == ("-tesla cars", ["biden"], 3, True)
    assert build_parser().parse_args(["search", "--org", "-x"]).org == ["-x"]  # an option's value stays its value


def test_an_unknown_double_dash_option_of_search_is_still_refused(capsys):
    from newsetl.cli import build_parser

    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["search", "--limt", "3", "x"])
    assert exited.value.code == 1 and "unrecognized arguments: --limt" in capsys.readouterr().err


def test_a_reader_that_leaves_early_gets_no_error_message():
    """`newsetl search climate | head`: the pipe closes while results are printed."""
    code = (
        "import sys, newsetl.cli as cli\n"
        "def many_lines(args, settings):\n"
        "    for number in range(200_000):\n"
        "        print('result', number)\n"
        "cli.search_command = many_lines\n"
        "sys.exit(cli.main(['search', 'climate']))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout.readline() == "result 0\n"
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert stderr == ""
