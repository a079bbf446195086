"""The compiled loop of :mod:`evo.strategies.variation`: DEAP's ``cxSimulatedBinary`` /
``cxBlend`` and ``mutGaussian`` on a population array, drawing from Python's generator
(MT19937, CPython's ``_randommodule.c``; ``random.gauss`` of ``random.py``) reproduced here.
Imported only where numba is installed."""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import uint32, uint64

__all__ = ["vary_kernel"]

N, M = 624, 397
UPPER, LOWER, MATRIX_A, WORD = uint64(0x80000000), uint64(0x7FFFFFFF), uint64(0x9908B0DF), uint64(0xFFFFFFFF)


@numba.njit(inline="always")
def _twist(mt, k, j, m):
    y = (uint64(mt[k]) & UPPER) | (uint64(mt[j]) & LOWER)
    mt[k] = uint32(uint64(mt[m]) ^ (y >> uint64(1)) ^ (MATRIX_A if y & uint64(1) else uint64(0)))


@numba.njit(inline="always")
def _next_word(mt, pos):
    """genrand_uint32: the next tempered word, and the new position (the words are
    regenerated every 624)."""
    if pos >= N:
        for k in range(N - M):
            _twist(mt, k, k + 1, k + M)
        for k in range(N - M, N - 1):
            _twist(mt, k, k + 1, k + M - N)
        _twist(mt, N - 1, 0, M - 1)
        pos = 0
    y = uint64(mt[pos])
    y ^= y >> uint64(11)
    y ^= (y << uint64(7)) & uint64(0x9D2C5680)
    y ^= (y << uint64(15)) & uint64(0xEFC60000)
    y ^= y >> uint64(18)
    return y & WORD, pos + 1


@numba.njit(inline="always")
def _uniform(mt, pos):
    """random.random(): 53 bits from two words."""
    a, pos = _next_word(mt, pos)
    b, pos = _next_word(mt, pos)
    return (np.float64(a >> uint64(5)) * 67108864.0 + np.float64(b >> uint64(6))) * (1.0 / 9007199254740992.0), pos


@numba.njit(cache=True, nogil=True)
def vary_kernel(x, mt, pos, has_cached, cached, sbx, eta, alpha, crossover_rate, mutation_rate, sigma, indpb):
    """Vary x (P, D) float64 in place from the generator state (mt: 624 uint32 words, changed
    in place; pos; random.gauss's cached value, when has_cached); returns (pos, has_cached,
    cached) after."""
    P, D = x.shape
    exponent = 1.0 / (eta + 1.0)
    for i in range(1, P, 2):
        u, pos = _uniform(mt, pos)
        if u < crossover_rate:
            for j in range(D):
                x1, x2 = x[i - 1, j], x[i, j]
                r, pos = _uniform(mt, pos)
                if sbx:                                   # tools.cxSimulatedBinary
                    beta = 2.0 * r if r <= 0.5 else 1.0 / (2.0 * (1.0 - r))
                    beta = beta ** exponent
                    x[i - 1, j] = 0.5 * (((1.0 + beta) * x1) + ((1.0 - beta) * x2))
                    x[i, j] = 0.5 * (((1.0 - beta) * x1) + ((1.0 + beta) * x2))
                else:                                     # tools.cxBlend
                    gamma = (1.0 + 2.0 * alpha) * r - alpha
                    x[i - 1, j] = (1.0 - gamma) * x1 + gamma * x2
                    x[i, j] = gamma * x1 + (1.0 - gamma) * x2
    for i in range(P):
        u, pos = _uniform(mt, pos)
        if u < mutation_rate:
            for j in range(D):                            # tools.mutGaussian, mu = 0.0
                r, pos = _uniform(mt, pos)
                if r < indpb:
                    if has_cached:                        # random.gauss: z, then its cached pair
                        z = cached
                        has_cached = False
                    else:
                        a, pos = _uniform(mt, pos)
                        b, pos = _uniform(mt, pos)
                        x2pi = a * (2.0 * math.pi)
                        g2rad = math.sqrt(-2.0 * math.log(1.0 - b))
                        z = math.cos(x2pi) * g2rad
                        cached = math.sin(x2pi) * g2rad
                        has_cached = True
                    x[i, j] += 0.0 + z * sigma
    return pos, has_cached, cached
