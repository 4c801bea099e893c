"""Declarative option-income programs: ``Program`` and its rules, ``Stack``, TOML loading.

A :class:`Program` says what to sell and how to run it, never how it is priced or on what data
(that is the pricer's and the market's business):

* ``strategy``: ``covered_call``, ``cash_secured_put`` (alias ``put_write``),
  ``bull_put_spread``, ``bear_call_spread``, ``iron_condor`` or ``collar``;
* :class:`Entry`: which expiry cycle (monthly third Fridays, weeklies, Deribit's last Fridays),
  the target days to expiry, and when to open (on the cycle's expiry dates, the Cboe "roll
  date", or on any day the program is flat);
* :class:`Strikes`: a :class:`StrikeRule` per short leg (by delta, by moneyness, or at the
  money, rounded to the listed-strike increment up / down / to the nearest), spread width;
* :class:`Exit`: hold to expiry, take profit at a fraction of the credit, stop at a multiple of
  it, roll when the short strike is tested or at N days to expiry, roll only for a net credit;
* :class:`Sizing`: fully collateralised (the broker's requirement: strike for short puts, spread
  width for defined-risk spreads, the shares for covered calls and collars), by notional, or a
  fixed number of contracts;
* :class:`Costs`: fee per contract and the fill: mid, natural, or a fraction of the way from
  mid to natural.

Rules that contradict each other raise :class:`~strikegrid.InputError` naming the rule
(``exit.roll_for_credit``, ``strikes.width`` ...). :func:`load` reads the same description from
a TOML file (one program, or a ``[stack]`` with ``[[programs]]``) together with its market
and pricing sections.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Union

from .._convert import finite_number
from ..exceptions import InputError
from .calendar import CYCLES

__all__ = [
    "STRATEGIES",
    "Costs",
    "Entry",
    "Exit",
    "Program",
    "Sizing",
    "Stack",
    "StrikeRule",
    "Strikes",
    "load",
]

#: Strategy names (``put_write`` is accepted for ``cash_secured_put``).
STRATEGIES = (
    "covered_call",
    "cash_secured_put",
    "bull_put_spread",
    "bear_call_spread",
    "iron_condor",
    "collar",
)
_ALIASES = {"put_write": "cash_secured_put", "csp": "cash_secured_put", "buy_write": "covered_call"}
#: Which short/long strike rules each strategy needs: (put rule, call rule, width).
_NEEDS = {
    "covered_call": (False, True, False),
    "cash_secured_put": (True, False, False),
    "bull_put_spread": (True, False, True),
    "bear_call_spread": (False, True, True),
    "iron_condor": (True, True, True),
    "collar": (True, True, False),
}
_CREDIT_STRATEGIES = frozenset(STRATEGIES) - {"collar"}


def _num(x: Any, name: str) -> float:
    return finite_number(x, name, bool_ok=False)


def _choice(x: Any, name: str, options: Sequence[str]) -> str:
    if x not in options:
        raise InputError(
            f"{name}: must be one of {', '.join(map(repr, options))}, got {x!r}", arg=name
        )
    return str(x)


@dataclass(frozen=True)
class StrikeRule:
    """How one strike is chosen at entry.

    Attributes:
        by: ``"delta"`` (``value`` is the target delta: positive for calls, negative for puts;
            a positive value for a put is read as its absolute delta), ``"moneyness"``
            (``strike = value * spot``, 1.05 = 5% above), or ``"atm"`` (the spot itself,
            ``value`` unused).
        value: the target (see ``by``).
        round: to the listed strikes: ``"nearest"``, ``"up"`` (the first at or above:
            Cboe BXM's "strike just above the index"), ``"down"`` (the first at or below: Cboe
            PUT's "strike just below").
    """

    by: str = "moneyness"
    value: float = 1.0
    round: str = "nearest"

    def __post_init__(self) -> None:
        _choice(self.by, "by", ("delta", "moneyness", "atm"))
        _choice(self.round, "round", ("nearest", "up", "down"))
        v = _num(self.value, "value")
        object.__setattr__(self, "value", v)
        if self.by == "moneyness" and v <= 0:
            raise InputError(f"value: moneyness must be positive, got {v}", arg="value")
        if self.by == "delta" and not 0 < abs(v) < 1:
            raise InputError(f"value: a delta must be between -1 and 1 (not 0), got {v}", "value")

    def describe(self) -> str:
        r = "" if self.round == "nearest" else f", round {self.round}"
        if self.by == "atm":
            return f"at the money{r}"
        if self.by == "delta":
            return f"delta {abs(self.value):.2f}{r}"
        return f"{self.value:g} x spot{r}"


@dataclass(frozen=True)
class Strikes:
    """Strike rules of a program.

    Attributes:
        put: the short put (cash-secured put, bull put spread, condor) or the long protective
            put (collar).
        call: the short call (covered call, bear call spread, condor, collar).
        width: distance of the long wings from the short strikes in price units (spreads and
            condors); ``width_pct`` as a fraction of spot instead. Not both.
        increment: listed-strike increment in price units for model pricing (5 for SPX, 1000
            for BTC); 0 = any strike. Chain pricing uses the chain's listed strikes.
    """

    put: StrikeRule | None = None
    call: StrikeRule | None = None
    width: float | None = None
    width_pct: float | None = None
    increment: float = 0.0

    def __post_init__(self) -> None:
        if self.width is not None and self.width_pct is not None:
            raise InputError(
                "strikes.width: give width or width_pct, not both", arg="strikes.width"
            )
        for nm in ("width", "width_pct"):
            v = getattr(self, nm)
            if v is not None and _num(v, f"strikes.{nm}") <= 0:
                raise InputError(f"strikes.{nm}: must be positive, got {v}", arg=f"strikes.{nm}")
        if _num(self.increment, "strikes.increment") < 0:
            raise InputError("strikes.increment: must be >= 0", arg="strikes.increment")


@dataclass(frozen=True)
class Entry:
    """When positions are opened and on which expiry.

    Attributes:
        expiries: the expiry cycle: ``"monthly"`` (third Friday), ``"weekly"`` (Fridays) or
            ``"last_friday"`` (Deribit monthly); holiday-shifted on the market's calendar.
        dte: target calendar days to expiry: the listed expiry closest to it is chosen
            (ties to the later one).
        min_dte: expiries closer than this are never chosen.
        on: ``"expiry"``: open only on the cycle's expiry dates (the Cboe roll date; after an
            early exit the program waits for the next one), or ``"flat"``: open on any day
            the program holds no option (the day after an early exit).
    """

    expiries: str = "monthly"
    dte: float = 30
    min_dte: float = 1
    on: str = "expiry"

    def __post_init__(self) -> None:
        _choice(self.expiries, "entry.expiries", CYCLES)
        _choice(self.on, "entry.on", ("expiry", "flat"))
        dte, lo = _num(self.dte, "entry.dte"), _num(self.min_dte, "entry.min_dte")
        if dte <= 0:
            raise InputError(f"entry.dte: must be positive, got {dte}", arg="entry.dte")
        if lo > dte:
            raise InputError(
                f"entry.min_dte: {lo:g} is above entry.dte {dte:g}", arg="entry.min_dte"
            )


@dataclass(frozen=True)
class Exit:
    """Management rules; with none set, positions are held to expiry.

    Attributes:
        take_profit: close when the cost to close has fallen to ``(1 - take_profit)`` of the
            opening credit (0.5 = keep half the credit).
        stop_loss: close when the loss reaches ``stop_loss`` times the opening credit (the cost
            to close is ``(1 + stop_loss)`` times the credit).
        roll_at_dte: roll (close, open the next expiry) at this many days to expiry or fewer.
        roll_when_tested: roll when the underlying closes through a short strike.
        roll_for_credit: roll only when the new position's credit exceeds the cost to close
            (else keep the position and try again the next day).

    Triggers are checked on each close at the mid marks (never on the entry day); the trade
    then fills by the program's :class:`Costs`.
    """

    take_profit: float | None = None
    stop_loss: float | None = None
    roll_at_dte: float | None = None
    roll_when_tested: bool = False
    roll_for_credit: bool = False

    def __post_init__(self) -> None:
        if self.take_profit is not None:
            tp = _num(self.take_profit, "exit.take_profit")
            if not 0 < tp <= 1:
                raise InputError(
                    f"exit.take_profit: a fraction of the credit in (0, 1], got {tp}",
                    arg="exit.take_profit",
                )
        if self.stop_loss is not None and _num(self.stop_loss, "exit.stop_loss") <= 0:
            raise InputError(
                f"exit.stop_loss: a positive multiple of the credit, got {self.stop_loss}",
                arg="exit.stop_loss",
            )
        if self.roll_at_dte is not None and _num(self.roll_at_dte, "exit.roll_at_dte") < 0:
            raise InputError("exit.roll_at_dte: must be >= 0", arg="exit.roll_at_dte")
        if self.roll_for_credit and self.roll_at_dte is None and not self.roll_when_tested:
            raise InputError(
                "exit.roll_for_credit: needs a roll trigger (exit.roll_at_dte or "
                "exit.roll_when_tested)",
                arg="exit.roll_for_credit",
            )

    @property
    def holds_to_expiry(self) -> bool:
        return (
            self.take_profit is None
            and self.stop_loss is None
            and self.roll_at_dte is None
            and not self.roll_when_tested
        )


@dataclass(frozen=True)
class Sizing:
    """How many contracts each position has.

    Attributes:
        mode: ``"collateral"``: the broker's requirement (strike x multiplier for short puts,
            spread width for spreads and condors, the shares for covered calls and collars)
            equals ``fraction`` of the capital; ``"notional"``: the underlying's value per
            contract (spot x multiplier) equals it; ``"contracts"``: a fixed number.
        fraction: share of the capital the program commits (the stack weight multiplies it).
        contracts: the fixed number (mode ``"contracts"`` only).
        whole: round the count down to whole contracts (else fractional, as indices are).
        reinvest_premium: the credit counts toward the capital (``N (R - credit) = capital``:
            the BXM's shares net of the call, the PUT's premium added to the T-bills).
        accrue_interest: interest to expiry counts toward the requirement (Cboe PUT: the
            T-bills *at expiry* must equal ``N K``).
    """

    mode: str = "collateral"
    fraction: float = 1.0
    contracts: float | None = None
    whole: bool = False
    reinvest_premium: bool = True
    accrue_interest: bool = False

    def __post_init__(self) -> None:
        _choice(self.mode, "sizing.mode", ("collateral", "notional", "contracts"))
        if _num(self.fraction, "sizing.fraction") <= 0:
            raise InputError("sizing.fraction: must be positive", arg="sizing.fraction")
        if self.mode == "contracts":
            if self.contracts is None or _num(self.contracts, "sizing.contracts") <= 0:
                raise InputError(
                    "sizing.contracts: mode 'contracts' needs a positive number of contracts",
                    arg="sizing.contracts",
                )
        elif self.contracts is not None:
            raise InputError(
                f"sizing.contracts: only used with mode 'contracts', not {self.mode!r}",
                arg="sizing.contracts",
            )


@dataclass(frozen=True)
class Costs:
    """Trading costs.

    Attributes:
        per_contract: fee per option contract traded (opening, closing, rolling; expiry and
            settlement are free).
        fill: where trades fill between mid and the far side: 0 or ``"mid"`` at mid, 1 or
            ``"natural"`` at the bid when selling and the ask when buying, any fraction between.
        spread: model pricing only: the assumed bid-ask width as a fraction of the model mid
            (``min_spread`` in price units at least). Chain pricing uses the quotes.
        min_spread: the narrowest assumed width (price units per unit of underlying).
    """

    per_contract: float = 0.0
    fill: Any = "mid"
    spread: float = 0.0
    min_spread: float = 0.0

    def __post_init__(self) -> None:
        f = (
            {"mid": 0.0, "natural": 1.0}.get(self.fill, self.fill)
            if isinstance(self.fill, str)
            else self.fill
        )
        if isinstance(f, str):
            raise InputError(
                f"costs.fill: 'mid', 'natural' or a fraction in [0, 1], got {self.fill!r}",
                arg="costs.fill",
            )
        fv = _num(f, "costs.fill")
        if not 0 <= fv <= 1:
            raise InputError(f"costs.fill: a fraction in [0, 1], got {fv}", arg="costs.fill")
        object.__setattr__(self, "fill", fv)
        for nm in ("per_contract", "spread", "min_spread"):
            if _num(getattr(self, nm), f"costs.{nm}") < 0:
                raise InputError(f"costs.{nm}: must be >= 0", arg=f"costs.{nm}")


@dataclass(frozen=True)
class Program:
    """One option-income program (see the module docs).

    Attributes:
        strategy: one of :data:`STRATEGIES` (or ``put_write``).
        name: a label for results and stacks.
        entry, strikes, exit, sizing, costs: the rules.
        multiplier: contract multiplier (100 for SPX options, 1 for Deribit's coin options).
        settlement: ``"cash"`` (index options: the intrinsic value is paid) or ``"physical"``
            (shares change hands at the strike; the next entry rebalances the shares).
        settle_at: the underlying level an expiring option settles at: ``"open"`` (SPX
            monthlies settle at the opening quotation (SET); Deribit at 08:00 UTC, nearest to
            the UTC day's open) or ``"close"`` (PM-settled options, equity options).
        trade_at: the level trades are done at on an entry / roll day: ``"close"``, ``"open"``
            or ``"midday"`` (the mean of open and close: a proxy of Cboe's 11:30-12:00 VWAP).
    """

    strategy: str
    name: str = ""
    entry: Entry = field(default_factory=Entry)
    strikes: Strikes = field(default_factory=Strikes)
    exit: Exit = field(default_factory=Exit)
    sizing: Sizing = field(default_factory=Sizing)
    costs: Costs = field(default_factory=Costs)
    multiplier: float = 100.0
    settlement: str = "cash"
    settle_at: str = "close"
    trade_at: str = "close"

    def __post_init__(self) -> None:
        s = _ALIASES.get(self.strategy, self.strategy)
        _choice(s, "strategy", STRATEGIES)
        object.__setattr__(self, "strategy", s)
        if not self.name:
            object.__setattr__(self, "name", s)
        if _num(self.multiplier, "multiplier") <= 0:
            raise InputError("multiplier: must be positive", arg="multiplier")
        _choice(self.settlement, "settlement", ("cash", "physical"))
        _choice(self.settle_at, "settle_at", ("open", "close"))
        _choice(self.trade_at, "trade_at", ("close", "open", "midday"))
        need_put, need_call, need_width = _NEEDS[s]
        st = self.strikes
        for leg, need in (("put", need_put), ("call", need_call)):
            rule = getattr(st, leg)
            if need and rule is None:
                raise InputError(f"strikes.{leg}: {s} needs a {leg} strike rule", f"strikes.{leg}")
            if not need and rule is not None:
                raise InputError(f"strikes.{leg}: {s} has no {leg} leg", arg=f"strikes.{leg}")
        has_width = st.width is not None or st.width_pct is not None
        if need_width and not has_width:
            raise InputError(f"strikes.width: {s} needs a wing width", arg="strikes.width")
        if not need_width and has_width:
            raise InputError(f"strikes.width: {s} has no wings", arg="strikes.width")
        if st.call is not None and st.call.by == "delta" and st.call.value < 0:
            raise InputError(
                f"strikes.call: a call delta is positive, got {st.call.value}", "strikes.call"
            )
        ex = self.exit
        if s not in _CREDIT_STRATEGIES and (ex.take_profit is not None or ex.stop_loss is not None):
            rule = "exit.take_profit" if ex.take_profit is not None else "exit.stop_loss"
            raise InputError(
                f"{rule}: a collar's options may cost a net debit; profit and stop rules are "
                "measured on a credit",
                arg=rule,
            )
        if ex.roll_at_dte is not None and ex.roll_at_dte >= self.entry.dte:
            raise InputError(
                f"exit.roll_at_dte: {ex.roll_at_dte:g} is not below entry.dte "
                f"{self.entry.dte:g}: every new position would roll at once",
                arg="exit.roll_at_dte",
            )

    def describe(self) -> str:
        """A one-line description of the rules."""
        st = self.strikes
        parts = [self.strategy.replace("_", " ")]
        if st.put is not None:
            parts.append(f"put {st.put.describe()}")
        if st.call is not None:
            parts.append(f"call {st.call.describe()}")
        if st.width is not None:
            parts.append(f"wings {st.width:g}")
        if st.width_pct is not None:
            parts.append(f"wings {st.width_pct:.1%}")
        parts.append(f"{self.entry.expiries} ~{self.entry.dte:g} DTE on {self.entry.on}")
        ex = self.exit
        if ex.holds_to_expiry:
            parts.append("held to expiry")
        else:
            if ex.take_profit is not None:
                parts.append(f"take profit {ex.take_profit:.0%}")
            if ex.stop_loss is not None:
                parts.append(f"stop {ex.stop_loss:g}x credit")
            if ex.roll_at_dte is not None:
                parts.append(f"roll at {ex.roll_at_dte:g} DTE")
            if ex.roll_when_tested:
                parts.append("roll when tested")
            if ex.roll_for_credit:
                parts.append("credit rolls only")
        parts.append(f"sizing {self.sizing.mode} x{self.sizing.fraction:g}")
        return ", ".join(parts)

    def with_(self, **changes: Any) -> Program:
        """A copy with some fields replaced (checked again)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Stack:
    """Several programs on one account: each sizes its positions on ``weight`` times the
    *whole account's* equity at entry (shared capital: one program's losses shrink the
    others' next positions), and its cash flows go to the one account. Results are reported
    together and per program.

    Attributes:
        programs: the programs (names must be unique).
        weights: one per program (default: equal shares summing to 1).
        name: the stack's label.
    """

    programs: tuple[Program, ...]
    weights: tuple[float, ...] | None = None
    name: str = "stack"

    def __post_init__(self) -> None:
        progs = tuple(self.programs)
        if not progs:
            raise InputError("programs: a stack needs at least one program", arg="programs")
        names = [p.name for p in progs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise InputError(
                f"programs: names must be unique; repeated: {', '.join(sorted(dup))}",
                arg="programs",
            )
        w = (
            tuple(1.0 / len(progs) for _ in progs)
            if self.weights is None
            else tuple(_num(x, "weights") for x in self.weights)
        )
        if len(w) != len(progs):
            raise InputError(f"weights: {len(w)} weights for {len(progs)} programs", arg="weights")
        if any(x <= 0 for x in w):
            raise InputError("weights: must be positive", arg="weights")
        object.__setattr__(self, "programs", progs)
        object.__setattr__(self, "weights", w)


# ---------------------------------------------------------------------------------- TOML


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    else:  # pragma: no cover - Python 3.9 / 3.10
        try:
            return importlib.import_module("tomli")
        except ImportError:
            raise InputError(
                "reading TOML programs needs Python 3.11+ (tomllib) or the tomli package",
                arg="path",
            ) from None


def _build(cls: type, table: Any, where: str) -> Any:
    if table is None:
        return cls()
    if not isinstance(table, Mapping):
        raise InputError(f"{where}: must be a table", arg=where)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            arg=f"{where}.{unknown[0]}",
        )
    return cls(**dict(table))


def _rule(table: Any, where: str) -> StrikeRule | None:
    if table is None:
        return None
    if isinstance(table, (int, float)) and not isinstance(table, bool):
        return StrikeRule("delta", float(table))
    try:
        rule: StrikeRule = _build(StrikeRule, table, where)
        return rule
    except InputError as e:
        if e.arg and not e.arg.startswith(where):
            raise InputError(f"{where}.{e}", arg=f"{where}.{e.arg}") from None
        raise


_PROGRAM_KEYS = {"strategy", "name", "multiplier", "settlement", "settle_at", "trade_at"}
_SECTIONS = {"entry", "strikes", "exit", "sizing", "costs"}


def program_from_dict(d: Mapping[str, Any], where: str = "program") -> Program:
    """A :class:`Program` from a mapping shaped like the TOML file (sections ``entry``,
    ``strikes`` (with ``put`` / ``call`` sub-tables), ``exit``, ``sizing``, ``costs``)."""
    extra = {"market", "pricing", "weight", "start", "end", "capital"}
    unknown = sorted(set(d) - _PROGRAM_KEYS - _SECTIONS - extra)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}", arg=unknown[0])
    if "strategy" not in d:
        raise InputError(f"{where}: needs a strategy", arg="strategy")
    st = d.get("strikes") or {}
    if not isinstance(st, Mapping):
        raise InputError("strikes: must be a table", arg="strikes")
    strikes_kw = {k: v for k, v in st.items() if k not in ("put", "call")}
    strikes = _build(
        Strikes,
        {
            **strikes_kw,
            "put": _rule(st.get("put"), "strikes.put"),
            "call": _rule(st.get("call"), "strikes.call"),
        },
        "strikes",
    )
    kw: dict[str, Any] = {k: d[k] for k in _PROGRAM_KEYS if k in d}
    kw["strikes"] = strikes
    for sec, cls in (("entry", Entry), ("exit", Exit), ("sizing", Sizing), ("costs", Costs)):
        kw[sec] = _build(cls, d.get(sec), sec)
    return Program(**kw)


@dataclass(frozen=True)
class Spec:
    """What :func:`load` returns: the stack (a single program is a stack of one), the market
    and pricing tables per program (paths resolved), the window and the capital."""

    stack: Stack
    markets: tuple[dict[str, Any], ...]
    pricings: tuple[dict[str, Any], ...]
    start: Any
    end: Any
    capital: float
    source: str


_PathLike = Union[str, "os.PathLike[str]"]


def _resolve(table: Mapping[str, Any], base: Path, data_dir: Path | None) -> dict[str, Any]:
    out = dict(table)
    root = data_dir
    if root is None and os.environ.get("STRIKEGRID_DATA"):
        root = Path(os.environ["STRIKEGRID_DATA"])
    if root is None and "root" in out:
        root = (base / str(out["root"])).resolve()
    out.pop("root", None)
    for key in ("prices", "vol", "rate"):
        v = out.get(key)
        if isinstance(v, str) and v not in ("series",):
            p = Path(v)
            out[key] = str(p if p.is_absolute() else (root or base) / p)
    return out


def load(path: _PathLike, *, data_dir: _PathLike | None = None) -> Spec:
    """Reads a program file (TOML).

    One program: top-level ``strategy``, ``name``, ``start``, ``end``, ``capital`` and the
    sections ``[entry]``, ``[strikes]`` (``[strikes.put]``, ``[strikes.call]``), ``[exit]``,
    ``[sizing]``, ``[costs]``, ``[market]`` and ``[pricing]``. A stack: ``[stack]`` (``name``,
    ``capital``, ``start``, ``end``), shared ``[market]`` / ``[pricing]`` defaults, and
    ``[[programs]]`` tables shaped like a single program plus a ``weight``.

    Relative data paths in ``[market]`` are resolved against ``data_dir`` when given, else the
    ``STRIKEGRID_DATA`` environment variable, else ``market.root`` (relative to the file),
    else the file's folder.
    """
    p = Path(os.fspath(path))
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}", arg="path") from None
    try:
        doc = _toml().loads(raw.decode("utf-8"))
    except Exception as e:  # tomllib.TOMLDecodeError and UnicodeDecodeError
        raise InputError(f"{p}: not valid TOML: {e}", arg="path") from None
    base = p.parent
    dd = Path(os.fspath(data_dir)) if data_dir is not None else None
    if "programs" in doc or "stack" in doc:
        head = doc.get("stack") or {}
        unknown = sorted(set(doc) - {"stack", "programs", "market", "pricing"})
        if unknown:
            raise InputError(f"{p}: unknown top-level key(s) {', '.join(unknown)}", unknown[0])
        items = doc.get("programs")
        if not isinstance(items, list) or not items:
            raise InputError(f"{p}: a stack needs [[programs]] tables", arg="programs")
        progs, weights, markets, pricings = [], [], [], []
        for i, item in enumerate(items):
            where = f"programs[{i}]"
            progs.append(program_from_dict(item, where))
            weights.append(item.get("weight", 1.0 / len(items)))
            markets.append(_resolve({**doc.get("market", {}), **item.get("market", {})}, base, dd))
            pricings.append({**doc.get("pricing", {}), **item.get("pricing", {})})
        stack = Stack(tuple(progs), tuple(weights), str(head.get("name", p.stem)))
        start, end, capital = head.get("start"), head.get("end"), head.get("capital", 1e6)
    else:
        prog = program_from_dict(doc)
        stack = Stack((prog,), (1.0,), prog.name)
        markets = [_resolve(doc.get("market", {}), base, dd)]
        pricings = [dict(doc.get("pricing", {}))]
        start, end, capital = doc.get("start"), doc.get("end"), doc.get("capital", 1e6)
    if _num(capital, "capital") <= 0:
        raise InputError("capital: must be positive", arg="capital")
    return Spec(stack, tuple(markets), tuple(pricings), start, end, float(capital), str(p))
