"""Type stubs of the compiled extension ``strikegrid._core`` (rust/python)."""

from typing import Any, final

import numpy as np
import numpy.typing as npt

GREEK_NAMES: list[str]
MODEL_NAMES: list[str]
PARALLEL_THRESHOLD: int
IV_STATUS: list[tuple[int, str]]
__version__: str

def price(
    kind: object,
    spot: object,
    strike: object,
    expiry: object,
    vol: object,
    rate: object = None,
    div: object = None,
    *,
    model: object = None,
    exercise: object = None,
    method: object = None,
    steps: object = None,
    dividends: object = None,
    errors: object = None,
) -> npt.NDArray[np.float64] | float: ...
def greeks(
    kind: object,
    spot: object,
    strike: object,
    expiry: object,
    vol: object,
    rate: object = None,
    div: object = None,
    *,
    model: object = None,
    exercise: object = None,
    method: object = None,
    steps: object = None,
    dividends: object = None,
    which: object = None,
    errors: object = None,
) -> dict[str, npt.NDArray[np.float64] | float]: ...
def evaluate_arrays(
    model: str,
    mask: int,
    kind: npt.NDArray[np.float64] | npt.NDArray[np.bool_],
    spot: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    vol: npt.NDArray[np.float64],
    rate: npt.NDArray[np.float64],
    div: npt.NDArray[np.float64],
    nan: bool,
) -> list[npt.NDArray[np.float64]]: ...
def implied_vol_arrays(
    model: str,
    premium: npt.NDArray[np.float64],
    kind: npt.NDArray[np.float64] | npt.NDArray[np.bool_],
    spot: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    rate: npt.NDArray[np.float64],
    div: npt.NDArray[np.float64],
    nan: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]: ...
def american_arrays(
    model: str,
    method: str | None,
    steps: int | None,
    div_times: list[float],
    div_amounts: list[float],
    mask: int,
    kind: npt.NDArray[np.float64] | npt.NDArray[np.bool_],
    spot: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    vol: npt.NDArray[np.float64],
    rate: npt.NDArray[np.float64],
    div: npt.NDArray[np.float64],
    nan: bool,
) -> list[npt.NDArray[np.float64]]: ...
def american_implied_vol_arrays(
    model: str,
    method: str | None,
    steps: int | None,
    div_times: list[float],
    div_amounts: list[float],
    premium: npt.NDArray[np.float64],
    kind: npt.NDArray[np.float64] | npt.NDArray[np.bool_],
    spot: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    rate: npt.NDArray[np.float64],
    div: npt.NDArray[np.float64],
    nan: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint8]]: ...
def exercise_boundary(
    model: str,
    method: str | None,
    kind: float,
    spot: float,
    strike: float,
    expiry: float,
    vol: float,
    rate: float,
    div: float,
    times: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def norm_cdf(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def norm_pdf(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def simd_level() -> str: ...
def buffer_pool(limit_bytes: int | None = None) -> tuple[int, int, int]: ...

@final
class PooledBuffer:
    """Base object of a large output array: owns its memory (recycled when the array dies)."""

def svi_calibrate(
    k: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    t: float,
) -> tuple[float, float, float, float, float, float, float, bool]: ...
def svi_total_variance(
    params: tuple[float, float, float, float, float],
    k: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def svi_g(
    params: tuple[float, float, float, float, float],
    k: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def ssvi_calibrate(
    ts: list[float],
    thetas: list[float],
    ks: list[npt.NDArray[np.float64]],
    ws: list[npt.NDArray[np.float64]],
    weights: list[npt.NDArray[np.float64]],
) -> tuple[float, float, float, float, npt.NDArray[np.float64]]: ...
def ssvi_total_variance(
    params: tuple[float, float, float],
    k: npt.NDArray[np.float64],
    theta: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def svi_surface_vol(
    ts: npt.NDArray[np.float64],
    log_forward: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def package_value(
    spot: float,
    ts: npt.NDArray[np.float64],
    log_forward: npt.NDArray[np.float64],
    log_discount: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    kind: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    under_qty: npt.NDArray[np.float64],
    under_cost: npt.NDArray[np.float64],
    premium: npt.NDArray[np.float64],
    real_world: tuple[float, float] | None = None,
    per_leg: bool = False,
) -> dict[str, npt.NDArray[np.float64]]: ...
def package_analytics(
    kind: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    under_qty: npt.NDArray[np.float64],
    under_cost: npt.NDArray[np.float64],
    premium: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def screen_chain(
    spot: float,
    ts: npt.NDArray[np.float64],
    log_forward: npt.NDArray[np.float64],
    log_discount: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    kind: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    bid: npt.NDArray[np.float64],
    ask: npt.NDArray[np.float64],
    volume: npt.NDArray[np.float64],
    open_interest: npt.NDArray[np.float64],
    strategy: str,
    filters: list[float],
    rank: str,
    ascending: bool,
    top: int,
    per_expiry: bool,
    natural: bool,
    real_world: tuple[float, float] | None,
    multiplier: float,
) -> dict[str, Any]: ...
def leg_values(
    spot: float,
    ts: npt.NDArray[np.float64],
    log_forward: npt.NDArray[np.float64],
    log_discount: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    kind: list[float],
    strike: list[float],
    expiry: list[float],
) -> npt.NDArray[np.float64]: ...
def scenario_values(
    spot: float,
    ts: npt.NDArray[np.float64],
    log_forward: npt.NDArray[np.float64],
    log_discount: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    kind: npt.NDArray[np.float64],
    strike: npt.NDArray[np.float64],
    expiry: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    under_qty: npt.NDArray[np.float64],
    under_cost: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64],
    group: npt.NDArray[np.uint32],
    n_groups: int,
    spot_shocks: npt.NDArray[np.float64],
    vol_shocks: npt.NDArray[np.float64],
    days: npt.NDArray[np.float64],
    dynamics: str = "sticky_strike",
) -> npt.NDArray[np.float64]: ...
def simulate_paths(
    model: str,
    spot: float,
    div: float,
    steps: int,
    dt: float,
    substeps: int,
    paths: int,
    seed: int,
    drift: float,
    vol: float = 0.0,
    v0: float = 0.0,
    kappa: float = 0.0,
    theta: float = 0.0,
    xi: float = 0.0,
    rho: float = 0.0,
    variance: bool = False,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]: ...
def run_mc_program(
    strategy: str,
    model: str,
    spot: float,
    div: float,
    steps: int,
    dt: float,
    substeps: int,
    paths: int,
    seed: int,
    drift: float,
    vol: float,
    v0: float,
    kappa: float,
    theta: float,
    xi: float,
    rho: float,
    moneyness: float,
    strike_step: float,
    period: int,
    rate: float,
    pricing_vol: float,
    state_scale: float,
    fee: float,
    slippage: float,
    keep_equity: bool,
) -> dict[str, npt.NDArray[np.float64]]: ...
