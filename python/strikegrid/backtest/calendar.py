"""Expiry calendars of listed options: monthly (third Friday), weekly (Fridays) and Deribit's
monthly (last Friday), moved to the previous trading day when the nominal day is a holiday.

US equity and index options expire on the third Friday of the month; when that Friday is an
exchange holiday (Good Friday: 2003-04-18, 2008-03-21, 2014-04-18, 2019-04-19, 2022-04-15 ...)
they expire on the Thursday before (OCC / Cboe rule: the preceding business day). The Cboe BXM
and PUT indices roll on that expiry day ("roll date"). Deribit's BTC/ETH monthlies expire on the
last Friday of the month at 08:00 UTC; crypto trades every day, so no shift is needed.

A trading calendar is the set of dates of a price history: a nominal expiry inside its span that
is not one of its dates is moved back to the closest earlier date; beyond the span (the future
of the data) the nominal date is kept.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from ..exceptions import InputError

__all__ = ["CYCLES", "expiries", "last_friday", "nominal_expiries", "third_friday"]

DateArray = npt.NDArray[np.datetime64]

#: Expiry cycles: ``monthly`` (third Friday), ``weekly`` (every Friday), ``last_friday``
#: (Deribit monthly).
CYCLES = ("monthly", "weekly", "last_friday")


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month (the standard monthly expiry)."""
    first = date(year, month, 1)
    # Friday is weekday 4: days to the first Friday, then two more weeks.
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def last_friday(year: int, month: int) -> date:
    """The last Friday of a month (Deribit's monthly expiry)."""
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 4) % 7)


def _month_range(start: date, end: date) -> list[tuple[int, int]]:
    out = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def nominal_expiries(cycle: str, start: date, end: date) -> DateArray:
    """Nominal expiry dates of ``cycle`` from ``start`` to ``end`` inclusive (no holiday
    shift), as ``datetime64[D]``."""
    if cycle == "monthly":
        days = [third_friday(y, m) for y, m in _month_range(start, end)]
    elif cycle == "last_friday":
        days = [last_friday(y, m) for y, m in _month_range(start, end)]
    elif cycle == "weekly":
        first = start + timedelta(days=(4 - start.weekday()) % 7)
        n = max((end - first).days // 7 + 1, 0)
        days = [first + timedelta(days=7 * i) for i in range(n)]
    else:
        raise InputError(
            f"entry.expiries: unknown cycle {cycle!r}; expected one of {', '.join(CYCLES)}",
            arg="entry.expiries",
        )
    arr = np.array([d.isoformat() for d in days], dtype="datetime64[D]")
    lo, hi = np.datetime64(start.isoformat(), "D"), np.datetime64(end.isoformat(), "D")
    return arr[(arr >= lo) & (arr <= hi)]


def expiries(cycle: str, trading_days: DateArray, horizon_days: int = 400) -> DateArray:
    """Expiry dates of ``cycle`` over a trading calendar, holiday-shifted (module docs), from
    the calendar's first day to ``horizon_days`` past its last (so that positions opened near
    the end have an expiry to aim at)."""
    days = np.asarray(trading_days, dtype="datetime64[D]")
    if days.size == 0:
        return days
    first = days[0].astype(object)
    last = days[-1].astype(object)
    nominal = nominal_expiries(cycle, first, last + timedelta(days=horizon_days))
    inside = nominal <= days[-1]
    # The closest trading day at or before each nominal day inside the calendar's span.
    pos = np.searchsorted(days, nominal[inside], side="right") - 1
    shifted = nominal.copy()
    ok = pos >= 0
    idx = np.flatnonzero(inside)
    shifted[idx[ok]] = days[pos[ok]]
    # A nominal day before the first trading day has no earlier trading day: keep it out.
    keep = np.ones(nominal.size, dtype=bool)
    keep[idx[~ok]] = False
    return np.unique(shifted[keep])
