"""Shipped configs speak only of what a user can read (issue 23: a comment pointed at unseen "issue notes")."""
from __future__ import annotations

from tests.helpers import REPO


def test_no_config_comment_points_at_notes_users_cannot_see():
    bad = [f"{p.relative_to(REPO)}:{n}" for p in sorted((REPO / "recipes").rglob("*.yaml"))
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "issue notes" in line.lower()]
    assert not bad, bad
