"""``numpy.random.default_rng(s).uniform(low, high, size)`` for many seeds s at once.

Gymnasium seeds each ``reset(seed=s)`` with ``default_rng(s)``, and the classic-control ports
reproduce those start states. Building one Generator per episode costs about 20 µs (its
SeedSequence and PCG64 set-up): 1 ms for CartPole's 50 episodes per evaluation, paid again
by every Ray chunk, and 2 ms for its 100 validation episodes. This module runs the same
arithmetic on arrays of seeds, in 0.2 and 0.4 ms:

1. ``SeedSequence(s)``, pool size 4, for a seed of one 32-bit word (s < 2**32), and its
   ``generate_state(4, uint64)`` (numpy ``bit_generator.pyx``: hashmix, mix, the INIT/MULT
   constants);
2. ``PCG64`` seeded from those four words: state = 0, inc = (initseq << 1) | 1, step,
   state += initstate, step (``pcg64_set_seed``, ``pcg_setseq_128_srandom_r``);
3. each draw: a step, the XSL-RR output, ``(x >> 11) * 2**-53``, then ``low + (high - low) * u``
   (``random_uniform``).

128-bit numbers are (high, low) pairs of uint64 arrays; every product wraps as in C.
Seeds outside [0, 2**32) take numpy's own path. A test compares the two for many seeds.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["uniform_per_seed"]

_M32, _M64 = 2**32 - 1, 2**64 - 1
_MULT = (2549297995355413924 << 64) + 4865540595714422341  # PCG_DEFAULT_MULTIPLIER_128
_MULT_HL = np.uint64(_MULT >> 64), np.uint64(_MULT & _M64)


def _chain(init: int, mult: int, n: int) -> list[int]:
    """SeedSequence's hash constants: init, init * mult, init * mult**2, ... (mod 2**32)."""
    out = [init]
    for _ in range(n):
        out.append(out[-1] * mult & _M32)
    return out


def _col(values: list[int], dtype: type) -> np.ndarray:
    return np.array(values, dtype=dtype)[:, None]


# hashmix number k xors with constant k and multiplies by constant k + 1 of this chain
_A = _chain(0x43B0D7E5, 0x931E8875, 16)
_B = _chain(0x8B51F9DD, 0x58F38DED, 8)
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_S16, _S32 = np.uint32(16), np.uint64(32)
_LOW32 = np.uint64(_M32)


def _constants(chain: list[int], ks: range) -> tuple[np.ndarray, np.ndarray]:
    """The xor and multiply constants of hashmixes ks of ``chain``: (len(ks), 1) uint32 columns."""
    return _col([chain[k] for k in ks], np.uint32), _col([chain[k + 1] for k in ks], np.uint32)


_SEED_XY = _constants(_A, range(0, 1))
_REST_XY = _constants(_A, range(1, 4))                                   # pool words 1-3: hashmix(0)
_MIXING = [(src, [d for d in range(4) if d != src], _constants(_A, range(4 + 3 * src, 7 + 3 * src)))
           for src in range(4)]                                          # src's hashmixes, into the other words
_GEN_XY = _constants(_B, range(8))


def _hashmix(value: np.ndarray, xy: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """SeedSequence's hashmix on uint32, with constants ``xy`` (one row per hashmix)."""
    v = (value ^ xy[0]) * xy[1]
    return v ^ (v >> _S16)


def _pool_states(seeds: np.ndarray) -> np.ndarray:
    """``SeedSequence(s).generate_state(4, uint64)`` for one-word seeds s: (4, n) uint64."""
    pool = np.empty((4, len(seeds)), np.uint32)
    pool[0] = _hashmix(seeds.astype(np.uint32), _SEED_XY)
    pool[1:] = _hashmix(np.uint32(0), _REST_XY)
    for src, dst, xy in _MIXING:  # pool[src] is fixed while it mixes into the other three
        r = _MIX_L * pool[dst] - _MIX_R * _hashmix(pool[src], xy)
        pool[dst] = r ^ (r >> _S16)
    w = _hashmix(pool[[0, 1, 2, 3, 0, 1, 2, 3]], _GEN_XY).astype(np.uint64)
    return w[0::2] | (w[1::2] << _S32)  # little-endian pairs of 32-bit words


def _mulhi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The high 64 bits of the 128-bit products a * b."""
    a0, a1, b0, b1 = a & _LOW32, a >> _S32, b & _LOW32, b >> _S32
    p01, p10 = a0 * b1, a1 * b0
    mid = ((a0 * b0) >> _S32) + (p01 & _LOW32) + (p10 & _LOW32)
    return a1 * b1 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)


def _split(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """128-bit constants as (high, low) uint64 columns."""
    return _col([v >> 64 for v in values], np.uint64), _col([v & _M64 for v in values], np.uint64)


def _mul(a: tuple[np.ndarray, np.ndarray], c: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """a * c mod 2**128 (broadcasting)."""
    return _mulhi(a[1], c[1]) + a[1] * c[0] + a[0] * c[1], a[1] * c[1]


def _add(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lo = a[1] + b[1]
    return a[0] + b[0] + (lo < a[1]).astype(np.uint64), lo


@lru_cache(maxsize=8)
def _jumps(k: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MULT**j and 1 + MULT + ... + MULT**(j-1) mod 2**128 for j = 1..k, as (k, 1) columns:
    after j steps, state = MULT**j * state + (that sum) * inc."""
    powers, sums, p, s = [], [], 1, 0
    for _ in range(k):
        s, p = (s + p) % 2**128, p * _MULT % 2**128
        powers.append(p)
        sums.append(s)
    return _split(powers), _split(sums)



def _uniforms(seeds: np.ndarray, k: int) -> np.ndarray:
    """(n, k): the first k ``random()`` doubles of ``default_rng(s)`` for each one-word seed."""
    init_hi, init_lo, seq_hi, seq_lo = _pool_states(seeds)
    inc = ((seq_hi << np.uint64(1)) | (seq_lo >> np.uint64(63)), (seq_lo << np.uint64(1)) | np.uint64(1))
    state = _add(_mul(_add(inc, (init_hi, init_lo)), _MULT_HL), inc)  # step from 0; += initstate; step
    powers, sums = _jumps(k)
    hi, lo = _add(_mul(state, powers), _mul(inc, sums))  # (k, n): the states of the k draws
    x, rot = hi ^ lo, hi >> np.uint64(58)
    x = (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))  # XSL-RR output
    return ((x >> np.uint64(11)) * (1.0 / 9007199254740992.0)).T


def uniform_per_seed(seeds, low, high, size: int | None = None) -> np.ndarray:
    """``np.stack([default_rng(s).uniform(low, high, size) for s in seeds])``, bit for bit.

    ``low`` and ``high`` are scalars or arrays of one shape (then ``size`` is that shape);
    the result is (len(seeds),) + the draw's shape."""
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    shape = np.broadcast_shapes(low.shape, high.shape) if size is None else tuple(np.atleast_1d(size))
    if len(seeds) and (seeds.min() < 0 or seeds.max() >= 2**32):
        return np.stack([np.random.default_rng(int(s)).uniform(low, high, size) for s in seeds])
    k = int(np.prod(shape, dtype=np.int64))
    u = _uniforms(seeds, k).reshape((len(seeds),) + shape)
    return low + (high - low) * u
