"""Exceptions raised by speechdis; the CLI turns them into one-line messages."""


class SpeechdisError(Exception):
    """Base class: an error the user can fix (bad input, bad config), not a bug."""


class AudioError(SpeechdisError):
    """Audio that cannot be read or used (names the file)."""


class DataDirError(SpeechdisError):
    """A Kaldi data directory that is missing files or inconsistent (names file and line)."""


class ConfigError(SpeechdisError, ValueError):
    """A configuration that is malformed (names the key): raised by the YAML loader and by every config
    dataclass's own checks. Also a ``ValueError``, so callers that caught the checks' former ValueError still do."""


class ModelError(SpeechdisError):
    """A model directory or checkpoint that cannot be used."""


class OutputLockedError(SpeechdisError):
    """An output (directory or file) that another running speechdis process is writing (names its pid)."""


class WorkerError(SpeechdisError):
    """A worker process died (killed, out of memory) while handling an input (names the input)."""
