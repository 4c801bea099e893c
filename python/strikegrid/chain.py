"""Option-chain snapshots: ``sg.Chain`` (being written)."""

from __future__ import annotations

__all__ = ["Chain"]


class Chain:
    """A normalised snapshot of one underlying's option chain at one time."""
