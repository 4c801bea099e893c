"""Progress reporting for long batch work: the ``progress=`` argument.

Every function that loops over many snapshots (:mod:`strikegrid.batch`, and
:mod:`strikegrid.dask` without a cluster) takes ``progress=``:

* ``None`` (default): a bar on the terminal when standard error is one, nothing otherwise
  (logs, notebooks' captured output, CI);
* ``True`` / ``False``: always / never draw the bar (to standard error);
* a callable ``f(done, total, key)``: called after each item (``total`` is None when unknown,
  ``key`` names the item just finished), for GUIs and logging.

On a Dask cluster :mod:`strikegrid.dask` shows Dask's own progress bar instead (and the
dashboard at ``client.dashboard_link`` shows the tasks).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["ProgressBar", "progress_reporter"]

#: Least time between two redraws of the bar, in seconds.
REDRAW = 0.1


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


class ProgressBar:
    """A one-line terminal progress bar: ``label  12/40 [=====>      ] 30%  3.1s<7.2s  key``.

    Redrawn in place (carriage return) at most every :data:`REDRAW` seconds, and once more when
    closed. Used as ``bar.update(key)`` after each item and ``bar.close()`` at the end.
    """

    def __init__(
        self, total: int | None, label: str = "", stream: TextIO | None = None, width: int = 24
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self.failed = 0
        self.start = time.perf_counter()
        self._drawn = 0.0
        self._last_len = 0
        self._closed = False

    def update(self, key: str = "", *, failed: bool = False) -> None:
        """One more item finished (``failed``: it ended in an error)."""
        self.done += 1
        self.failed += int(failed)
        now = time.perf_counter()
        if now - self._drawn >= REDRAW or self.done == self.total:
            self._draw(key)
            self._drawn = now

    def line(self, key: str = "") -> str:
        """The bar's text as it would be drawn now."""
        elapsed = time.perf_counter() - self.start
        head = f"{self.label}  " if self.label else ""
        if self.total:
            frac = min(1.0, self.done / self.total)
            fill = int(frac * self.width)
            arrow = ">" if fill < self.width else ""
            bar = "=" * fill + arrow + " " * (self.width - fill - len(arrow))
            eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
            text = (
                f"{head}{self.done}/{self.total} [{bar}] {100 * frac:3.0f}%  "
                f"{_seconds(elapsed)}<{_seconds(eta)}"
            )
        else:
            text = f"{head}{self.done} done  {_seconds(elapsed)}"
        if self.failed:
            text += f"  {self.failed} failed"
        if key:
            text += f"  {key}"
        return text

    def _draw(self, key: str = "") -> None:
        text = self.line(key)
        pad = max(0, self._last_len - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._last_len = len(text)

    def close(self, note: str = "") -> None:
        """Draw the final state (with an optional note such as "interrupted") and end the line."""
        if self._closed:
            return
        self._closed = True
        self._draw(note)
        self.stream.write("\n")
        self.stream.flush()


class _Callback:
    def __init__(self, fn: Callable[[int, int | None, str], Any], total: int | None) -> None:
        self.fn, self.total, self.done = fn, total, 0

    def update(self, key: str = "", *, failed: bool = False) -> None:
        self.done += 1
        self.fn(self.done, self.total, key)

    def close(self, note: str = "") -> None:
        pass


class _Silent:
    def update(self, key: str = "", *, failed: bool = False) -> None:
        pass

    def close(self, note: str = "") -> None:
        pass


def progress_reporter(progress: Any, total: int | None, label: str = "") -> Any:
    """The reporter a ``progress=`` value asks for (see the module docs): an object with
    ``update(key, failed=False)`` and ``close(note="")``."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty())
    if progress is True:
        return ProgressBar(total, label)
    if progress is False:
        return _Silent()
    if callable(progress):
        return _Callback(progress, total)
    raise TypeError(f"progress: expected None, True, False or a callable, got {progress!r}")
