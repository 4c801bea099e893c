"""Exceptions raised by strikegrid.

Every error strikegrid raises on purpose derives from :class:`StrikegridError`. Bad input raises
:class:`InputError`, which is also a :class:`ValueError`, so ``except ValueError`` catches it.
"""

from __future__ import annotations

__all__ = ["InputError", "StrikegridError"]


class StrikegridError(Exception):
    """Base class of strikegrid's errors."""


class InputError(StrikegridError, ValueError):
    """An argument is invalid.

    Attributes:
        arg: the name of the offending argument, when one is to blame (``"vol"``, ``"kind"``...).
        index: the position of the first offending element in the broadcast result (an ``int``
            for 1-D results, a tuple for N-D ones), when the problem is per element.
    """

    arg: str | None
    index: int | tuple[int, ...] | None

    def __init__(
        self,
        message: str,
        arg: str | None = None,
        index: int | tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(message)
        self.arg = arg
        self.index = index
