"""Large outputs live in recycled buffers (rust/python/src/pool.rs): they must behave as fresh
arrays, keep their memory while any view is alive, and stay within the pool's bound."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import numpy as np
import pytest

import strikegrid as sg
from strikegrid import _core

N = 100_000  # above the pooling threshold (32,768 elements)


@pytest.fixture
def pool() -> Iterator[None]:
    limit = _core.buffer_pool()[0]
    _core.buffer_pool(0)  # start empty
    _core.buffer_pool(64 << 20)
    yield
    _core.buffer_pool(0)
    _core.buffer_pool(limit)


def inputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (
        np.where(rng.random(N) < 0.5, 1.0, -1.0),
        rng.uniform(80, 120, N),
        rng.uniform(50, 150, N),
        rng.uniform(0.02, 2, N),
        rng.uniform(0.05, 0.8, N),
    )


def test_recycled_outputs_equal_fresh_ones(pool: None) -> None:
    a = inputs(1)
    _core.buffer_pool(0)
    fresh = sg.greeks(*a, 0.03, 0.01, which=["price", "delta", "vega"])
    assert all(v.base is None or not isinstance(v.base, _core.PooledBuffer) for v in fresh.values())
    _core.buffer_pool(64 << 20)
    first = sg.greeks(*inputs(2), 0.03, 0.01, which=["price", "delta", "vega"])
    assert all(isinstance(v.base, _core.PooledBuffer) for v in first.values())
    del first
    gc.collect()
    assert _core.buffer_pool()[2] == 3  # the three buffers came back
    again = sg.greeks(*a, 0.03, 0.01, which=["price", "delta", "vega"])
    assert _core.buffer_pool()[2] == 0  # and were reused
    for k, v in again.items():
        assert v.shape == (N,) and v.dtype == np.float64 and v.flags.c_contiguous
        assert v.flags.writeable
        np.testing.assert_array_equal(v, fresh[k])


def test_a_view_keeps_the_buffer(pool: None) -> None:
    p = sg.price(*inputs(3), 0.03, 0.01)
    expected = p[::7].copy()
    view = p[::7]
    del p
    gc.collect()
    assert _core.buffer_pool()[2] == 0  # still owned by the view's base
    sg.price(*inputs(4), 0.03, 0.01)  # must not write into the view's memory
    np.testing.assert_array_equal(view, expected)
    del view
    gc.collect()
    assert _core.buffer_pool()[2] >= 1


def test_the_pool_stays_within_its_bound(pool: None) -> None:
    limit = 3 * N * 8
    _core.buffer_pool(limit)
    outs = [sg.price(*inputs(5), 0.03, 0.01) for _ in range(6)]
    del outs
    gc.collect()
    lim, held, count = _core.buffer_pool()
    assert lim == limit and held <= limit and count == 3
    _core.buffer_pool(0)
    assert _core.buffer_pool()[1:] == (0, 0)
    p = sg.price(*inputs(5), 0.03, 0.01)
    assert p.flags.owndata  # pooling off: a plain numpy array


def test_small_outputs_are_plain_arrays(pool: None) -> None:
    p = sg.price(1.0, np.full(1000, 100.0), 100.0, 1.0, 0.2)
    assert p.flags.owndata


def test_other_sizes_are_not_served_by_a_much_larger_buffer(pool: None) -> None:
    del_me = sg.price(*inputs(6), 0.03, 0.01)
    del del_me
    gc.collect()
    small = sg.price(1.0, np.full(N // 2, 100.0), 100.0, 1.0, 0.2)
    assert isinstance(small.base, _core.PooledBuffer)
    assert _core.buffer_pool()[2] == 1  # the N-element buffer was left for an N-sized call
