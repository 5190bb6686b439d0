"""What the task runners share about their typed results: the JSON form (``to_dict``) and read access by key.

Each task's result (:class:`~speechdis.eval.tasks.std.StdResult`, :class:`~speechdis.eval.tasks.speaker.SpeakerResult`,
:class:`~speechdis.eval.tasks.probes.ProbeResult`) is a dataclass the final table reads by field; ``to_dict()`` is
the layout of its report file (``std.json`` ...), which recipes and older callers read back by key.
"""
from __future__ import annotations

from typing import Any

__all__ = ["TaskResult"]


class TaskResult:
    """Base of the task results: ``result["key"]`` and ``result.get("key")`` read ``to_dict()``, so code written
    against the report's JSON layout keeps working on the typed result."""

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON layout (as written to ``<task>.json``)."""
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def get(self, key: str, default: Any = None) -> Any:
        """``to_dict().get(key, default)``."""
        return self.to_dict().get(key, default)
