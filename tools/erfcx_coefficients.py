#!/usr/bin/env python3
"""Coefficients of strikegrid's erfcx approximation (rust/core/src/normal.rs, ``ERFCX_T``).

erfcx(y) = exp(y^2) erfc(y) for y >= 0 is written with the Moebius map t = (y - K)/(y + K),
which takes [0, inf) onto [-1, 1) (the change of variable of Schonfelder, Math. Comp. 32
(1978), and Shepherd & Laframboise, Math. Comp. 36 (1981), for Chebyshev expansions of erfc),
as erfcx(y) = h(t) / (y + K) with h(t) = (y + K) erfcx(y), a smooth function on [-1, 1]
(h(-1) = K, h(1) = 1/sqrt(pi)). h is expanded in Chebyshev polynomials from its values at
Chebyshev nodes computed with mpmath at 50 digits, truncated where every dropped coefficient is
below 1e-17 K, and converted to powers of t (the conversion is well conditioned here: the sum
of the absolute monomial coefficients is about h(-1) = K).

    python tools/erfcx_coefficients.py        # needs mpmath; prints the Rust table
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 50
K = mp.mpf(4)
TOL = mp.mpf("1e-17") * K


def h(t: mp.mpf) -> mp.mpf:
    if t == 1:
        return 1 / mp.sqrt(mp.pi)
    y = K * (1 + t) / (1 - t)
    return (y + K) * mp.exp(y * y) * mp.erfc(y)


def chebyshev(n: int) -> list[mp.mpf]:
    nodes = [mp.cos(mp.pi * (j + mp.mpf(1) / 2) / n) for j in range(n)]
    values = [h(x) for x in nodes]
    return [
        2
        * mp.fsum(v * mp.cos(mp.pi * k * (j + mp.mpf(1) / 2) / n) for j, v in enumerate(values))
        / n
        for k in range(n)
    ]


def to_powers(c: list[mp.mpf]) -> list[mp.mpf]:
    polys = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    for k in range(2, len(c)):
        new = [mp.mpf(0)] * (k + 1)
        for i, v in enumerate(polys[k - 1]):
            new[i + 1] += 2 * v
        for i, v in enumerate(polys[k - 2]):
            new[i] -= v
        polys.append(new)
    out = [mp.mpf(0)] * len(c)
    for k, ck in enumerate(c):
        w = ck / 2 if k == 0 else ck
        for i, v in enumerate(polys[k]):
            out[i] += w * v
    return out


def main() -> None:
    c = chebyshev(48)
    n = next(i for i in range(len(c)) if max(abs(x) for x in c[i:]) < TOL)
    powers = to_powers(c[:n])
    print(f"// degree {n - 1}, highest power first; K = {mp.nstr(K, 3)}")
    print(f"const ERFCX_T: [f64; {n}] = [")
    for a in reversed(powers):
        print(f"    {mp.nstr(a, 21, min_fixed=0, max_fixed=0)},")
    print("];")


if __name__ == "__main__":
    main()
