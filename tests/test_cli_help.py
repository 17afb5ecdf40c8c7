"""The command line explains itself: help on every subcommand and option, and exit statuses a scheduler can read."""

from __future__ import annotations

import argparse

import pytest

from newsetl.cli import build_parser, exit_status, main, render_summary


def subcommands(parser: argparse.ArgumentParser, prefix: str = "newsetl") -> dict[str, argparse.ArgumentParser]:
    """Every parser below `parser`, by its command line (`newsetl es start`)."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found[f"{prefix} {name}"] = child
                found.update(subcommands(child, f"{prefix} {name}"))
    return found


def test_every_subcommand_has_a_description_and_every_option_a_help_text():
    parser = build_parser()
    commands = subcommands(parser)
    assert {
        "newsetl up",
        "newsetl down",
        "newsetl status",
        "newsetl es start",
        "newsetl kibana import",
        "newsetl serve",
    } <= set(commands)
    for line, command in commands.items():
        assert command.description, f"{line} has no description"
        for action in command._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"{line} {'/'.join(action.option_strings) or action.dest} has no help text"
    listed = {
        choice.dest
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
    }
    assert all(
        choice.help
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
    )
    assert "up" in listed


@pytest.mark.parametrize("group, actions", [("es", ("start", "stop", "status")), ("kibana", ("import",))])
def test_a_command_group_without_an_action_prints_its_own_help(group, actions, capsys):
    assert main([group]) == 2
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: newsetl {group}")
    assert all(action in shown for action in actions)
    assert "rebuild" not in shown  # not the top-level help


def test_exit_status_is_3_when_files_failed_and_0_when_some_were_only_quarantined():
    assert exit_status({"failed": 0, "quarantined": 4}) == 0
    assert exit_status({"failed": 2, "quarantined": 0}) == 3


def test_the_summary_line_gives_the_commands_wall_time_and_says_failed_files_are_retried():
    summary = {
        name: 0 for name in ("files_seen", "written", "unchanged", "duplicates", "near_duplicates", "quarantined")
    }
    line = render_summary({**summary, "failed": 2, "files_seen": 2, "seconds": 0.1, "wall_seconds": 11.04})
    assert "in 11.0s (pipeline 0.1s)" in line
    assert "failed: 2 files" in line and "next run" in line


def test_the_summary_line_names_the_languages_indexed_without_entities():
    summary = {name: 0 for name in ("files_seen", "written", "seconds", "wall_seconds")}
    text = render_summary({**summary, "languages_without_ner": {"es": 27, "de": 350, "fi": 1}})
    assert "without entities (no NER model for the language): de: 350 articles, es: 27 articles, fi: 1 article" in text
    assert "without entities" not in render_summary({**summary, "languages_without_ner": {}})
