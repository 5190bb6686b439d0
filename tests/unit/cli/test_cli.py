"""The CLI as a whole: --version, top-level help, help text on every option of every command."""
from __future__ import annotations

import argparse

import pytest

import speechdis
from speechdis.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser, path: str = "speechdis"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"speechdis {speechdis.__version__}"


def test_top_level_help_is_for_users(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "A typical run" in out and "recipes/mini/run.sh" in out
    for command in ("prepare", "features", "train", "extract", "evaluate", "image"):
        assert command in out


def test_every_option_has_help_and_defaults_show_once():
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{path}: {action.option_strings or action.dest} has no help text"
        text = parser.format_help()
        assert text.count("(default: ") == sum(1 for line in text.splitlines() if "(default: " in line)
        assert "(default: True)" not in text and "(default: False)" not in text, path
