"""Auction logs as JSON lines: one ``request`` record, one ``response`` record per dealer (in
rank order) and one ``decision`` record per auction, each with its simulated ISO time and its
offset ``t`` in seconds from the request. :func:`read_log` rebuilds equal results."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..exceptions import InputError
from ..package import Leg, Package
from ._auction import (
    AuctionResult,
    Fees,
    Improvement,
    Response,
    Screen,
    ScreenLeg,
    ScreenModel,
)
from ._dealer import Charges, Quote
from ._request import Request

__all__ = ["read_log", "write_log"]

PathOrFile = str | Path | IO[str]


def _num(x: float | None) -> Any:
    """Floats as JSON numbers; infinities and NaN as strings (strict JSON has none)."""
    if x is None or math.isfinite(x):
        return x
    return repr(float(x))


def _unnum(x: Any) -> Any:
    return float(x) if isinstance(x, str) else x


def _expiry(e: Any) -> Any:
    if e is None or isinstance(e, (float, str)):
        return e
    if isinstance(e, np.datetime64):
        return {"datetime64": str(e)}
    if isinstance(e, datetime):
        return {"datetime": e.isoformat()}
    if isinstance(e, date):
        return {"date": e.isoformat()}
    raise InputError(f"legs: cannot log expiry {e!r}", arg="legs")


def _unexpiry(e: Any) -> Any:
    if not isinstance(e, dict):
        return e
    if "datetime64" in e:
        return np.datetime64(e["datetime64"])
    if "datetime" in e:
        return datetime.fromisoformat(e["datetime"])
    return date.fromisoformat(e["date"])


def _request(r: Request) -> dict[str, Any]:
    pkg = r.package
    legs = [
        {
            "kind": leg.kind,
            "strike": leg.strike,
            "expiry": _expiry(leg.expiry),
            "qty": leg.qty,
            "exercise": leg.exercise,
            "price": leg.price,
        }
        for leg in pkg.legs
    ]
    package = {"legs": legs, "multiplier": pkg.multiplier, "name": pkg.name}
    return {"package": package, "size": r.size, "side": r.side, "ttl": r.ttl}


def _unrequest(d: dict[str, Any]) -> Request:
    p = d["package"]
    legs = [
        Leg(g["kind"], g["strike"], _unexpiry(g["expiry"]), g["qty"], g["exercise"], g["price"])
        for g in p["legs"]
    ]
    return Request(Package(legs, p["multiplier"], p["name"]), d["size"], d["side"], d["ttl"])


def _quote(q: Quote) -> dict[str, Any]:
    d = asdict(q)
    d["charges"] = None if q.charges is None else asdict(q.charges)
    d["leg_bid"], d["leg_ask"] = list(q.leg_bid), list(q.leg_ask)
    return d


def _unquote(d: dict[str, Any]) -> Quote:
    d = dict(d)
    d["charges"] = None if d["charges"] is None else Charges(**d["charges"])
    d["leg_bid"], d["leg_ask"] = tuple(d["leg_bid"]), tuple(d["leg_ask"])
    d["ttl"] = _unnum(d["ttl"])
    return Quote(**d)


def _screen(s: Screen | None) -> dict[str, Any] | None:
    if s is None:
        return None
    legs = [{**asdict(g), "depth": _num(g.depth)} for g in s.legs]
    return {**{f.name: getattr(s, f.name) for f in fields(s) if f.name != "legs"}, "legs": legs}


def _unscreen(d: dict[str, Any] | None) -> Screen | None:
    if d is None:
        return None
    legs = tuple(ScreenLeg(**{**g, "depth": _unnum(g["depth"])}) for g in d["legs"])
    return Screen(d["touch"], d["price"], d["slippage"], d["fees"], legs)


def records(result: AuctionResult) -> Iterator[dict[str, Any]]:
    """The JSON-ready records of one auction."""
    yield {
        "event": "request",
        "time": result.started,
        "t": 0.0,
        "request": _request(result.request),
        "seed": result.seed,
        "fees": asdict(result.fees),
        "screen_model": asdict(result.screen_model),
    }
    for r in result.responses:
        yield {
            "event": "response",
            "time": result.timestamp(r.received),
            "t": r.received,
            "rank": r.rank,
            "status": r.status,
            "expires": _num(r.expires),
            "quote": _quote(r.quote),
        }
    yield {
        "event": "decision",
        "time": result.timestamp(result.decided),
        "t": result.decided,
        "side": result.side,
        "winner": result.winner,
        "price": result.price,
        "filled": result.filled,
        "fair": result.fair,
        "mid": result.mid,
        "best_bid": result.best_bid,
        "best_ask": result.best_ask,
        "screen": _screen(result.screen),
        "improvement": None if result.improvement is None else asdict(result.improvement),
        "note": result.note,
    }


def write_log(results: AuctionResult | Iterable[AuctionResult], dest: PathOrFile) -> None:
    """Write one or more auctions as JSON lines to a path (overwritten) or an open text file."""
    items = [results] if isinstance(results, AuctionResult) else list(results)
    lines = [
        json.dumps(rec, allow_nan=False, separators=(",", ":"))
        for res in items
        for rec in records(res)
    ]
    text = "".join(line + "\n" for line in lines)
    if isinstance(dest, (str, Path)):
        Path(dest).write_text(text, encoding="utf-8")
    else:
        dest.write(text)


def read_log(src: PathOrFile) -> list[AuctionResult]:
    """Read the auctions of a log written by :func:`write_log`, in order."""
    if isinstance(src, (str, Path)):
        text = Path(src).read_text(encoding="utf-8")
    else:
        text = src.read()
    out: list[AuctionResult] = []
    head: dict[str, Any] | None = None
    responses: list[Response] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            event = rec["event"]
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"log: line {n} is not an auction record ({e})", arg="log") from e
        if event == "request":
            head, responses = rec, []
        elif event == "response" and head is not None:
            responses.append(
                Response(
                    rec["rank"],
                    _unquote(rec["quote"]),
                    rec["t"],
                    _unnum(rec["expires"]),
                    rec["status"],
                )
            )
        elif event == "decision" and head is not None:
            imp = rec["improvement"]
            out.append(
                AuctionResult(
                    request=_unrequest(head["request"]),
                    side=rec["side"],
                    responses=tuple(sorted(responses, key=lambda r: r.rank)),
                    winner=rec["winner"],
                    price=rec["price"],
                    filled=rec["filled"],
                    fair=rec["fair"],
                    mid=rec["mid"],
                    best_bid=rec["best_bid"],
                    best_ask=rec["best_ask"],
                    screen=_unscreen(rec["screen"]),
                    improvement=None if imp is None else Improvement(**imp),
                    fees=Fees(**head["fees"]),
                    screen_model=ScreenModel(**head["screen_model"]),
                    seed=head["seed"],
                    started=head["time"],
                    decided=rec["t"],
                    note=rec["note"],
                )
            )
            head = None
        else:
            raise InputError(f"log: line {n}: unexpected {event!r} record", arg="log")
    return out
