"""`speechdis <command>`: one module per command, each with ``register(subparsers)``.

The CLI is the only place (with the recipes) that reads argv and prints; library code raises
:class:`speechdis.errors.SpeechdisError`, which is shown here as a one-line message, as are the other expected
failures (:func:`describe_error`: OSError such as a full disk, MemoryError, bad zip files, ValueError,
FloatingPointError); ``speechdis --debug`` shows their traceback instead. Numeric options are range-checked
while parsing (:mod:`speechdis.cli.argtypes`). Every parser shows each
option's default once, in its help line (:class:`HelpFormatter`); help texts do not repeat it.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Command modules under speechdis.cli; each defines register(subparsers) -> sets args.func.
COMMANDS = ["prepare", "align", "features", "train", "backend", "extract", "search", "evaluate", "image"]

DESCRIPTION = """\
Phonetic and speaker embeddings of spoken words: Kaldi-style data dirs in, embeddings and reports out.

A typical run (each step has its own --help):
  speechdis prepare librispeech --corpus DIR --subset dev-clean data/dev    # or: prepare lhotse MANIFESTS OUT
  speechdis features data/dev --config conf/mfcc.yaml --nj 4                # Kaldi MFCC + CMVN
  speechdis train --config conf/train_disentangled.yaml --data data/dev --out exp/dis
  speechdis extract --model exp/dis data/test --out exp/dis/test.npz        # or speechdis.load_model() in Python
  speechdis evaluate all --data data/test --model dis=exp/dis --out exp/eval
  speechdis search --archive exp/dis/test.npz query.wav --model exp/dis  # nearest segments of a spoken query

The whole pipeline on the embedded synthetic corpus: bash recipes/mini/run.sh
"""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; each option's default appended once, and only when it says something (not for
    flags, unset options, or help texts that already explain their default)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (not action.option_strings or action.nargs == 0 or action.default in (None, argparse.SUPPRESS)
                or action.default == [] or "default" in text.lower()):
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """ArgumentParser with :class:`HelpFormatter`; sub-command parsers inherit it. A bad command line is
    one line naming the option (not the whole usage text), exit status 2 as argparse."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The `speechdis` argument parser with every subcommand registered."""
    from speechdis import __version__

    parser = Parser(prog="speechdis", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"speechdis {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of its one-line message")
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"speechdis.cli.{name}").register(sub)
    return parser


def describe_error(e: BaseException) -> str | None:
    """The one-line message of an expected failure (bad input, full disk, no memory), or None for a bug.

    OSErrors name their file and the system's reason (no space left on device, permission denied,
    read-only file system, ...); numpy/yaml ValueErrors and FloatingPointErrors say what was wrong.
    """
    import zipfile

    from speechdis.errors import SpeechdisError

    if isinstance(e, SpeechdisError):
        text = str(e)
        if "\nOriginal Traceback" in text:  # re-raised from a DataLoader worker: the worker's own message
            text = text.strip().splitlines()[-1].split(": ", 1)[-1]
        return text
    if isinstance(e, OSError):
        name = e.filename
        reason = e.strerror or str(e) or type(e).__name__
        return f"{name}: {reason}" if name is not None else reason
    if isinstance(e, MemoryError):
        return f"out of memory{f' ({e})' if str(e) else ''}: use smaller inputs or options (--batch-size, --nj)"
    if isinstance(e, zipfile.BadZipFile):
        return f"not a readable .npz/zip file: {e}"
    if isinstance(e, FloatingPointError):
        return f"numerical error (non-finite values): {e}"
    if isinstance(e, ValueError):
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def configure_logging(verbose: bool = False) -> None:
    """INFO (DEBUG with ``verbose``) from speechdis's own loggers; other libraries' loggers (faiss, numba,
    matplotlib) only from WARNING, unless ``verbose``."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("speechdis").setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the `speechdis` CLI on `argv`; returns the exit status (expected errors are one line)."""
    from speechdis.errors import SpeechdisError

    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        message = describe_error(e)
        if message is None or args.debug:
            raise  # a bug, or asked for: the traceback
        hint = "" if isinstance(e, SpeechdisError) else " (speechdis --debug: traceback)"
        print(f"speechdis {args.command}: error: {message}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"speechdis {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
